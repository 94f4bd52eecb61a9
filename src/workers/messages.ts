/** What the primary and its workers tell each other over the cluster IPC channel (`bcs` tags ours). */
export type WorkerMessage =
  /** A worker has started and listens: the primary forks the next one. */
  | { bcs: 'ready' }
  /** A worker committed change-feed rows: the others read the feed now. */
  | { bcs: 'change'; feedId: number }
  /** A worker serving /metrics asks for every worker's series; the primary answers with `metrics`. */
  | { bcs: 'metrics-request'; id: number }
  | { bcs: 'metrics'; id: number; body?: string; contentType?: string; error?: string }
  /** The primary asks each started worker for its registry's series (prom-client's JSON form). */
  | { bcs: 'series-request'; id: number }
  | { bcs: 'series'; id: number; series?: unknown[]; error?: string };

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { bcs?: unknown }).bcs === 'string';
}
