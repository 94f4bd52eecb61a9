/** One agent or driver tunnel a worker holds, as the others need it to relay through that worker. */
export interface WorkerHolding {
  /** The holding process's tunnel owner id (the owner of the credential rows it stored). */
  owner: string;
  module: 'kube-agent' | 'mesos-driver' | 'k8s-driver';
  clusterId: string;
  /** `host:port` the tunnel's far end dials. */
  target: string;
  /** What the agent or driver reported, `http(s)://host:port`. */
  address: string;
}

/** Each worker's relay socket and the tunnels it holds, by worker id. */
export type HolderMap = Record<string, { socket: string; holdings: WorkerHolding[] }>;

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
  | { bcs: 'series'; id: number; series?: unknown[]; error?: string }
  /** A worker's tunnels changed (all of them, not a delta): the primary updates its map and sends it to every worker. */
  | { bcs: 'holdings'; holdings: WorkerHolding[] }
  | { bcs: 'holder-map'; map: HolderMap };

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { bcs?: unknown }).bcs === 'string';
}
