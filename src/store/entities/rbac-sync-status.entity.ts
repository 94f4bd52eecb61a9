import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

export type RbacSyncResult = 'ok' | 'partial' | 'failed' | 'skipped';

/**
 * The outcome of RBAC sync per cluster, written by whichever process synced it, and the lease that
 * keeps two gateway replicas from syncing the same cluster at once (they would both create bindings).
 * Lists are JSON text (MariaDB has no JSON type).
 */
@Entity({ tableName: 'rbac_sync_status' })
export class RbacSyncStatus {
  @PrimaryKey({ type: 'string', length: 100 })
  clusterId!: string;

  @Property({ type: 'string', length: 16, nullable: true })
  result?: RbacSyncResult | null;

  /** What started the last attempt: `grant-change`, `periodic`, `manual`, `retry`, `startup`, `credentials`. */
  @Property({ type: 'string', length: 32, nullable: true })
  trigger?: string | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  lastAttemptAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  lastSuccessAt?: Date | null;

  @Property({ type: 'string', length: 255, nullable: true })
  server?: string | null;

  @Property({ type: 'text', nullable: true })
  lastError?: string | null;

  /** JSON `{failed: [...]}` of the last attempt. */
  @Property({ type: 'text', nullable: true })
  lastFailures?: string | null;

  @Property({ type: 'integer', default: 0 })
  consecutiveFailures: number = 0;

  @Property({ type: 'datetime', length: 3, nullable: true })
  nextRetryAt?: Date | null;

  /** The last attempt that changed something, and what it changed (JSON `{rolesCreated, rolesUpdated, created, removed}`). */
  @Property({ type: 'datetime', length: 3, nullable: true })
  lastChangedAt?: Date | null;

  @Property({ type: 'text', nullable: true })
  lastChanges?: string | null;

  @Property({ type: 'string', length: 64, nullable: true })
  leaseOwner?: string | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  leaseUntil?: Date | null;
}
