import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '../log';

/** Sent as `Retry-After` (and its equivalents) while the store cannot be reached. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/**
 * Failures that mean the database cannot be reached or cannot take work right now, as opposed to a
 * query that is wrong. Driver, socket and pool codes of mysql2, knex and better-sqlite3.
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_SERVER_GONE_ERROR',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_FULL',
  'SQLITE_READONLY',
]);

/** MySQL client error numbers (2002 can't connect, 2003 host down, 2006 gone away, 2013 lost) and server 1040/1053. */
const UNAVAILABLE_ERRNOS = new Set([1040, 1053, 2002, 2003, 2006, 2013]);

const UNAVAILABLE_NAMES = new Set(['ConnectionException', 'KnexTimeoutError']);

/** True when `err` (or what it wraps) says the store is down or overloaded, not that the query was bad. */
export function isStoreUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth += 1) {
    const x = e as { name?: unknown; code?: unknown; errno?: unknown; message?: unknown; cause?: unknown; previous?: unknown; originalError?: unknown };
    if (typeof x.name === 'string' && UNAVAILABLE_NAMES.has(x.name)) return true;
    if (typeof x.code === 'string' && (UNAVAILABLE_CODES.has(x.code) || x.code.startsWith('SQLITE_IOERR'))) return true;
    if (typeof x.errno === 'number' && UNAVAILABLE_ERRNOS.has(x.errno)) return true;
    if (typeof x.message === 'string' && /Timeout acquiring a connection|Connection lost|connection is in closed state|Pool is closed/i.test(x.message)) return true;
    e = x.cause ?? x.previous ?? x.originalError;
  }
  return false;
}

/** What the edges tell the store-health tracker; see StoreHealth. */
export interface StoreOutageReporter {
  /** A store call failed with `err`; returns true when it was an outage (render 503), false for other errors. */
  report(err: unknown): boolean;
  /** True while an outage is in progress (reported and not yet recovered). */
  readonly down: boolean;
}

/**
 * Turns a stream of failures into two log lines per outage: one when the first failure is reported (with
 * its cause, never the SQL), one when a probe finds the store answering again. Requests failing meanwhile
 * are not logged one by one; the edges answer them 503 with a retry hint.
 */
export class StoreHealth implements StoreOutageReporter {
  private since: number | undefined;
  private failures = 0;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    private readonly orm: Pick<MikroORM, 'em'>,
    private readonly logger: Logger,
    private readonly probeIntervalMs = 1_000,
  ) {}

  get down(): boolean {
    return this.since !== undefined;
  }

  report(err: unknown): boolean {
    if (!isStoreUnavailable(err)) return false;
    this.failures += 1;
    if (this.since !== undefined) return true;
    this.since = Date.now();
    this.failures = 1;
    this.logger.error({ cause: describeStoreError(err) }, 'store unavailable: requests that need it are answered 503 until it is back');
    this.probe = setInterval(() => void this.check(), this.probeIntervalMs);
    this.probe.unref();
    return true;
  }

  private async check(): Promise<void> {
    try {
      await this.orm.em.fork().getConnection().execute('select 1');
    } catch {
      return;
    }
    if (this.since === undefined) return;
    this.logger.warn({ downForMs: Date.now() - this.since, failedRequests: this.failures }, 'store available again');
    this.since = undefined;
    clearInterval(this.probe);
    this.probe = undefined;
  }

  stop(): void {
    clearInterval(this.probe);
    this.probe = undefined;
  }
}

/** The cause of a store failure as it may be logged: error class, driver code and number, no SQL, no values. */
export function describeStoreError(err: unknown): Record<string, unknown> {
  const x = (err ?? {}) as { name?: unknown; code?: unknown; errno?: unknown; sqlState?: unknown };
  return {
    type: typeof x.name === 'string' ? x.name : 'Error',
    ...(typeof x.code === 'string' ? { code: x.code } : {}),
    ...(typeof x.errno === 'number' ? { errno: x.errno } : {}),
    ...(typeof x.sqlState === 'string' ? { sqlState: x.sqlState } : {}),
  };
}
