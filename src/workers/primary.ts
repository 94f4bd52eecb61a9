import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log';
import { gatherMetrics } from './gather';
import { WorkerHolders } from './holders';
import { isWorkerMessage, type WorkerMessage } from './messages';

/** A worker that dies is replaced after this long (not at once: a crash on start would spin). */
const RESTART_DELAY_MS = 1000;

/**
 * The primary of `proxy.workers: N`: forks N workers sharing the listeners' ports (node:cluster; on
 * Linux the primary accepts each connection and hands it to the next worker in turn), relays
 * change-feed signals between them, keeps which worker holds which tunnel (so the others relay through
 * it) and answers /metrics with every worker's series. It serves nothing
 * itself. Workers start one after another, so the first one alone migrates the store and bootstraps.
 */
export async function runPrimary(workers: number, logger: Logger): Promise<void> {
  const ready = new Set<Worker>();
  let stopping = false;
  // Which worker holds which agent or driver tunnel, so that the others relay through it.
  const holders = new WorkerHolders();
  const send = (w: Worker, m: WorkerMessage): void => {
    if (w.isConnected()) w.send(m);
  };
  const broadcastHolders = (): void => {
    const map = holders.map();
    for (const w of Object.values(cluster.workers ?? {})) if (w) send(w, { bcs: 'holder-map', map });
  };
  const onMessage = (from: Worker, m: unknown): void => {
    if (!isWorkerMessage(m)) return;
    if (m.bcs === 'change') {
      for (const w of Object.values(cluster.workers ?? {})) if (w && w !== from) send(w, m);
    } else if (m.bcs === 'holdings') {
      holders.set(String(from.id), m.holdings);
      broadcastHolders();
    } else if (m.bcs === 'metrics-request') {
      gatherMetrics([...ready]).then(
        ({ body, contentType }) => send(from, { bcs: 'metrics', id: m.id, body, contentType }),
        (err: unknown) => send(from, { bcs: 'metrics', id: m.id, error: (err as Error).message }),
      );
    }
  };
  let started = false;
  const fork = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork(holders.env());
      w.on('message', (m: unknown) => {
        if (isWorkerMessage(m) && m.bcs === 'ready') {
          ready.add(w);
          resolve();
        }
        onMessage(w, m);
      });
      w.once('exit', (code, signal) => {
        const wasReady = ready.delete(w);
        holders.drop(String(w.id));
        if (!stopping) broadcastHolders();
        if (stopping) return resolve();
        // A worker that cannot start (configuration, store, port) would fail again: the start fails.
        if (!started) return reject(new Error(`worker ${w.id} exited with ${signal ?? code} while starting`));
        logger.error({ worker: w.id, code, signal, wasReady }, 'worker exited; starting another');
        setTimeout(() => void fork().catch(() => undefined), RESTART_DELAY_MS).unref();
      });
    });
  try {
    for (let i = 0; i < workers; i += 1) await fork();
  } catch (err) {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    throw err;
  }
  started = true;
  logger.info({ workers }, 'bcs-api workers listening');
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
