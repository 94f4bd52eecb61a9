import cluster from 'node:cluster';
import { RELAY_DIR_ENV, RELAY_SECRET_ENV, relaySocket } from './holders';
import { isWorkerMessage, type HolderMap, type WorkerHolding } from './messages';

/** This worker's end of the relay between workers: its socket, the secret, and the primary's holder map. */
export interface WorkerRelaySide {
  workerId: string;
  socketPath: string;
  secret: string;
  /** Tells the primary every tunnel this worker holds now. */
  publish(holdings: WorkerHolding[]): void;
  /** The map as last broadcast (this worker's own entries included). */
  map(): HolderMap;
  onMap(listener: (map: HolderMap) => void): void;
}

/**
 * Undefined outside `proxy.workers` above 1. The secret is taken out of the environment once read, so
 * nothing this process starts inherits it.
 */
export function workerRelaySide(): WorkerRelaySide | undefined {
  const dir = process.env[RELAY_DIR_ENV];
  const secret = process.env[RELAY_SECRET_ENV];
  if (!cluster.isWorker || !dir || !secret) return undefined;
  delete process.env[RELAY_SECRET_ENV];
  const workerId = String(cluster.worker!.id);
  let current: HolderMap = {};
  const listeners: ((map: HolderMap) => void)[] = [];
  process.on('message', (m: unknown) => {
    if (!isWorkerMessage(m) || m.bcs !== 'holder-map') return;
    current = m.map;
    for (const l of listeners) l(current);
  });
  const publish = (holdings: WorkerHolding[]): void => {
    if (process.connected) process.send?.({ bcs: 'holdings', holdings });
  };
  // The primary answers any worker's holdings with the whole map to all: this is how a new worker gets it.
  publish([]);
  return { workerId, socketPath: relaySocket(dir, workerId), secret, publish, map: () => current, onMap: (l) => void listeners.push(l) };
}
