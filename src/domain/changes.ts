import type { EntityManager } from '@mikro-orm/core';
import { ChangeEvent, type ChangeKind } from '../store/entities';
import type { DomainContext } from './context';

export { ChangeBus, type ChangeListener } from './change-bus';

/**
 * Records a change in the feed that out-of-process caches poll (the proxy may run as a sidecar against
 * the same database), flushes it together with the caller's pending changes, then tells this process.
 */
export async function commitWithChange(ctx: DomainContext, kind: ChangeKind, key: string | number): Promise<void> {
  const event = new ChangeEvent();
  event.kind = kind;
  event.key = String(key);
  event.createdAt = ctx.now();
  ctx.em.persist(event);
  await ctx.em.flush();
  ctx.changes.publish(kind, String(key), event.id);
}

export interface ChangeRecord {
  id: number;
  kind: ChangeKind;
  key: string;
}

/**
 * The feed after `afterId`, plus the rows among `missing` (ids below it not seen yet), oldest first: one
 * indexed query.
 */
export async function changesSince(em: EntityManager, afterId: number, missing: readonly number[] = [], limit = 1000): Promise<ChangeRecord[]> {
  const where = missing.length ? { $or: [{ id: { $gt: afterId } }, { id: { $in: [...missing] } }] } : { id: { $gt: afterId } };
  const rows = await em.find(ChangeEvent, where, { orderBy: { id: 'asc' }, limit, fields: ['id', 'kind', 'key'] });
  return rows.map((r) => ({ id: r.id, kind: r.kind, key: r.key }));
}

/** The ids of the newest `count` feed rows, oldest first: where a new reader starts, and what it has not seen below. */
export async function latestChangeIds(em: EntityManager, count: number): Promise<number[]> {
  const rows = await em.find(ChangeEvent, {}, { orderBy: { id: 'desc' }, limit: count, fields: ['id'] });
  return rows.map((r) => r.id).reverse();
}

/** Drops feed rows older than `before`; readers poll far more often than that. */
export async function pruneChanges(em: EntityManager, before: Date): Promise<number> {
  return em.nativeDelete(ChangeEvent, { createdAt: { $lt: before } });
}

/** How long feed rows are kept: far longer than any reader's poll interval. */
export const CHANGE_RETENTION_MS = 60 * 60_000;
