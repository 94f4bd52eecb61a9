import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { RbacSyncStatus, type RbacSyncResult } from '../store/entities';

export interface RbacObjectRef {
  kind: string;
  name: string;
  namespace?: string;
}

export interface RbacChanges {
  rolesCreated: string[];
  rolesUpdated: string[];
  created: RbacObjectRef[];
  removed: RbacObjectRef[];
}

export interface RbacFailure {
  op: string;
  target: RbacObjectRef;
  message: string;
}

/** One cluster's sync status with its JSON columns decoded. */
export interface RbacSyncStatusView {
  clusterId: string;
  result: RbacSyncResult | null;
  trigger: string | null;
  lastAttemptAt: Date | null;
  lastSuccessAt: Date | null;
  server: string | null;
  lastError: string | null;
  failures: RbacFailure[];
  consecutiveFailures: number;
  nextRetryAt: Date | null;
  lastChangedAt: Date | null;
  lastChanges: RbacChanges | null;
}

export function statusView(row: RbacSyncStatus | null, clusterId: string): RbacSyncStatusView {
  return {
    clusterId,
    result: row?.result ?? null,
    trigger: row?.trigger ?? null,
    lastAttemptAt: row?.lastAttemptAt ?? null,
    lastSuccessAt: row?.lastSuccessAt ?? null,
    server: row?.server ?? null,
    lastError: row?.lastError ?? null,
    failures: row?.lastFailures ? (JSON.parse(row.lastFailures) as RbacFailure[]) : [],
    consecutiveFailures: row?.consecutiveFailures ?? 0,
    nextRetryAt: row?.nextRetryAt ?? null,
    lastChangedAt: row?.lastChangedAt ?? null,
    lastChanges: row?.lastChanges ? (JSON.parse(row.lastChanges) as RbacChanges) : null,
  };
}

export async function readSyncStatus(em: EntityManager, clusterId: string): Promise<RbacSyncStatusView> {
  return statusView(await em.findOne(RbacSyncStatus, { clusterId }), clusterId);
}

export async function readSyncStatuses(em: EntityManager, clusterIds: readonly string[]): Promise<Map<string, RbacSyncStatusView>> {
  const rows = clusterIds.length ? await em.find(RbacSyncStatus, { clusterId: { $in: [...clusterIds] } }) : [];
  const byId = new Map(rows.map((r) => [r.clusterId, r]));
  return new Map(clusterIds.map((id) => [id, statusView(byId.get(id) ?? null, id)]));
}

/**
 * Takes the cluster's sync lease for `ttlMs` unless another live process holds it: one conditional
 * UPDATE, so two gateway replicas never push the same cluster at once (both would create bindings).
 */
export async function claimSyncLease(em: EntityManager, clusterId: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
  const until = new Date(now.getTime() + ttlMs);
  const take = () =>
    em.nativeUpdate(RbacSyncStatus, { clusterId, $or: [{ leaseUntil: null }, { leaseUntil: { $lt: now } }, { leaseOwner: owner }] }, { leaseOwner: owner, leaseUntil: until });
  if ((await take()) === 1) return true;
  if (await em.count(RbacSyncStatus, { clusterId })) return false;
  try {
    await em.insert(RbacSyncStatus, { clusterId, consecutiveFailures: 0, leaseOwner: owner, leaseUntil: until });
    return true;
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) return (await take()) === 1;
    throw err;
  }
}

export interface SyncOutcome {
  trigger: string;
  at: Date;
  result: RbacSyncResult;
  server?: string | null;
  error?: string | null;
  failures?: RbacFailure[];
  changes?: RbacChanges | null;
  nextRetryAt?: Date | null;
}

const changed = (c: RbacChanges | null | undefined): c is RbacChanges => Boolean(c && (c.rolesCreated.length || c.rolesUpdated.length || c.created.length || c.removed.length));

/** Records an attempt and releases the lease. A skipped cluster (no credentials) is neither a success nor a failure. */
export async function recordSyncOutcome(em: EntityManager, clusterId: string, owner: string, o: SyncOutcome): Promise<void> {
  const row = await em.findOne(RbacSyncStatus, { clusterId });
  if (!row) return;
  row.result = o.result;
  row.trigger = o.trigger;
  row.lastAttemptAt = o.at;
  row.server = o.server ?? null;
  row.lastError = o.error ? o.error.slice(0, 4000) : null;
  row.lastFailures = o.failures?.length ? JSON.stringify(o.failures.slice(0, 100)) : null;
  if (o.result === 'ok') {
    row.lastSuccessAt = o.at;
    row.consecutiveFailures = 0;
  } else if (o.result !== 'skipped') row.consecutiveFailures += 1;
  row.nextRetryAt = o.nextRetryAt ?? null;
  if (changed(o.changes)) {
    row.lastChangedAt = o.at;
    row.lastChanges = JSON.stringify(o.changes);
  }
  if (row.leaseOwner === owner) {
    row.leaseOwner = null;
    row.leaseUntil = null;
  }
  await em.flush();
}
