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
