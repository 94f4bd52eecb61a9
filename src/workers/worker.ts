import cluster from 'node:cluster';
import type { Registry } from 'prom-client';
import type { ChangeSignal, ChangeSignalListener } from '../domain/change-signal';
import { isWorkerMessage, type WorkerMessage } from './messages';

/** How long a /metrics answer from the primary may take. */
const METRICS_TIMEOUT_MS = 5000;

/** This process's worker id under `proxy.workers`, undefined when it runs alone. */
export function workerId(): string | undefined {
  return cluster.isWorker ? String(cluster.worker!.id) : undefined;
}

function send(m: WorkerMessage): void {
  process.send?.(m);
}

export function announceReady(): void {
  if (cluster.isWorker) send({ bcs: 'ready' });
}

/** The primary gathering /metrics asks for this worker's series. */
export function answerSeriesRequests(registry: Registry): void {
  process.on('message', (m: unknown) => {
    if (!isWorkerMessage(m) || m.bcs !== 'series-request') return;
    registry.getMetricsAsJSON().then(
      (series) => send({ bcs: 'series', id: m.id, series }),
      (err: unknown) => send({ bcs: 'series', id: m.id, error: (err as Error).message }),
    );
  });
}

let nextRequest = 0;

/** Every worker's metrics (each series labelled with its `worker`), gathered by the primary. */
export function clusterMetrics(): Promise<{ body: string; contentType: string }> {
  const id = (nextRequest += 1);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('the primary did not answer with the workers\' metrics'));
    }, METRICS_TIMEOUT_MS);
    const onMessage = (m: unknown): void => {
      if (!isWorkerMessage(m) || m.bcs !== 'metrics' || m.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (m.error !== undefined || m.body === undefined) reject(new Error(m.error ?? 'no metrics'));
      else resolve({ body: m.body, contentType: m.contentType ?? 'text/plain' });
    };
    process.on('message', onMessage);
    send({ bcs: 'metrics-request', id });
  });
}

/**
 * The change signal between workers of one primary: a worker's commit reaches the others at once over
 * IPC rather than at their next poll. The feed stays the record, and the safety-net poll keeps the
 * bound (revocation within a second) should a signal be lost.
 */
export class WorkerChangeSignal implements ChangeSignal {
  readonly safetyNetMs = 500;
  private readonly listeners = new Set<ChangeSignalListener>();

  constructor() {
    process.on('message', (m: unknown) => {
      if (isWorkerMessage(m) && m.bcs === 'change') for (const l of this.listeners) l.signalled(m.feedId);
    });
  }

  notify(feedId: number): void {
    send({ bcs: 'change', feedId });
  }

  up(): boolean {
    return process.connected;
  }

  subscribe(listener: ChangeSignalListener): () => void {
    this.listeners.add(listener);
    listener.health(true);
    return () => this.listeners.delete(listener);
  }
}
