import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** What changed; caches key their entries by these. */
/** `rbac`: grants or templates changed; the key is the cluster id, or `*` for every cluster. */
export type ChangeKind = 'token' | 'user' | 'cluster' | 'credential' | 'webhook' | 'rbac';

/**
 * An append-only feed of changes that caches outside this process must see (the proxy may run as a
 * sidecar against the same database). Readers poll by increasing id; old rows are pruned.
 */
@Entity({ tableName: 'change_events' })
export class ChangeEvent {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Property({ type: 'string', length: 16 })
  kind!: ChangeKind;

  @Property({ type: 'string', length: 128 })
  key!: string;

  @Property({ type: 'datetime', length: 3, index: true })
  createdAt: Date = new Date();
}
