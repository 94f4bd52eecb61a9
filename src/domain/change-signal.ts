/**
 * A cheap "the change feed has new rows" signal between processes sharing one store (replicas, a
 * sidecar proxy). The feed table stays the record: a signal carries no change, it only tells readers
 * to read the feed now instead of at their next poll. Implemented over ZooKeeper by the discovery.
 */
export interface ChangeSignalListener {
  /**
   * Some process committed feed rows: read the feed now. `feedId`, when known, is the newest id the
   * signalling process wrote; a writer inside a transaction may signal before it commits, so readers
   * keep looking for that id for a while.
   */
  signalled(feedId?: number): void;
  /** The signal path works (`true`) or not (`false`): readers poll slowly or fall back to fast polling. */
  health(up: boolean): void;
}

export interface ChangeSignal {
  /** How often readers still poll the feed while signals reach them: a safety net, not the path. */
  readonly safetyNetMs: number;
  /** Announces rows this process has just committed; bursts are sent as one signal. */
  notify(feedId: number): void;
  /** Whether signals from other processes reach this one now. */
  up(): boolean;
  subscribe(listener: ChangeSignalListener): () => void;
}
