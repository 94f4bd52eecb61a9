import type { EntityManager, EntityName, FilterQuery, QueryOrderMap } from '@mikro-orm/core';
import { findLean, type Lean } from '../store/lean';
import { ValidationError } from '../errors';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
  /** Cursor of each item, in order. */
  cursors: string[];
  /** Counted only when asked for, so listing pages costs one query. */
  totalCount: () => Promise<number>;
}

export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 50;

export function pageSize(args: PageArgs): number {
  const first = args.first ?? DEFAULT_PAGE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new ValidationError('first', `'first' must be between 0 and ${MAX_PAGE}`);
  return first;
}

/** Opaque keyset cursors over one unique, ordered key. */
export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify([key]), 'utf8').toString('base64url');
}

export function decodeCursor<K extends string | number>(cursor: string | null | undefined, kind: 'string' | 'number'): K | undefined {
  if (!cursor) return undefined;
  try {
    const [key] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof key === kind) return key as K;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError('after', `'after' is not a cursor returned by this API`);
}

/** One page ordered by a unique key, plus a lazily counted total: the one listing query every list uses. */
export async function findPage<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  key: keyof T & string,
  keyKind: 'string' | 'number',
  page: PageArgs,
): Promise<Page<T>> {
  return pageBy(em, entity, where, key, keyKind, page, (filter, options) => em.find(entity, filter, options));
}

/** `findPage` for reads that only map rows to a response: plain rows, no entities (see findLean). */
export async function findLeanPage<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  key: keyof T & string,
  keyKind: 'string' | 'number',
  page: PageArgs,
): Promise<Page<Lean<T>>> {
  return pageBy(em, entity, where, key, keyKind, page, (filter, options) => findLean(em, entity, filter, options));
}

async function pageBy<T extends object, R>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  key: keyof T & string,
  keyKind: 'string' | 'number',
  page: PageArgs,
  read: (filter: FilterQuery<T>, options: { orderBy: QueryOrderMap<T>; limit: number }) => Promise<R[]>,
): Promise<Page<R>> {
  const limit = pageSize(page);
  const after = decodeCursor<string | number>(page.after, keyKind);
  const filter = (after === undefined ? where : { $and: [where, { [key]: { $gt: after } }] }) as FilterQuery<T>;
  const items = await read(filter, { orderBy: { [key]: 'asc' } as QueryOrderMap<T>, limit: limit + 1 });
  const slice = items.slice(0, limit);
  return {
    items: slice,
    hasNextPage: items.length > limit,
    cursors: slice.map((item) => encodeCursor((item as Record<string, unknown>)[key] as string | number)),
    totalCount: () => em.count(entity, where),
  };
}
