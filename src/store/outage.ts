import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '../log';
import { driverErrorView, driverMessage, isDriverError } from './driver-error';
import { storeProbe } from './probe';

/** Sent as `Retry-After` (and its equivalents) while the store cannot be reached. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** What every edge tells a client while the store cannot be reached (with its own code and a 503). */
export const STORE_UNAVAILABLE_MESSAGE = `the store is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS} seconds`;

/**
 * Failures that mean the database cannot be reached or cannot take work right now, as opposed to a
 * query that is wrong. Driver, socket and pool codes of mysql2, knex and better-sqlite3; SQLite's
 * extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_WRITE, …) count with their family.
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_SERVER_GONE_ERROR',
  // A server switched read-only (a failover in progress) takes no writes until it is over.
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_READ_ONLY_MODE',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
]);
const UNAVAILABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY)(_|$)/;

/**
 * MySQL client error numbers (2002 can't connect, 2003 host down, 2006 gone away, 2013 lost) and server
 * ones (1040 too many connections, 1053 shutdown, 1290/1836 read-only, 1927 connection killed).
 */
const UNAVAILABLE_ERRNOS = new Set([1040, 1053, 1290, 1836, 1927, 2002, 2003, 2006, 2013]);

const UNAVAILABLE_NAMES = new Set(['ConnectionException', 'KnexTimeoutError']);

/**
 * mysql2 and knex say some of these only in words: a pooled connection found closed, a pool that timed
 * out, and a transaction whose BEGIN failed on a dead connection (knex then completes it and answers the
 * next statement of the unit of work with "Transaction query already complete", the cause lost).
 */
const UNAVAILABLE_WORDS = /Timeout acquiring a connection|Connection lost|connection is in closed state|Pool is closed|socket has been ended|Transaction query already complete/i;

/**
 * True when `err` (or what it wraps) says the store is down or overloaded, not that the query was bad.
 * Only errors of the store's driver stack count: a Kubernetes or webhook call refused with the same
 * ECONNREFUSED is that peer's failure, not the store's.
 */
export function isStoreUnavailable(err: unknown): boolean {
  return unavailableLink(err) !== undefined;
}

/** The driver error in `err`'s chain (cause, MikroORM's previous, GraphQL's originalError) that says the store is unavailable. */
function unavailableLink(err: unknown): Error | undefined {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 6; depth += 1) {
    if (e instanceof Error && isDriverError(e) && saysUnavailable(e)) return e;
    const x = e as { cause?: unknown; previous?: unknown; originalError?: unknown };
    e = x.cause ?? x.previous ?? x.originalError;
  }
  return undefined;
}

function saysUnavailable(e: Error): boolean {
  const x = e as Error & { code?: unknown; errno?: unknown };
  if (UNAVAILABLE_NAMES.has(e.name)) return true;
  if (typeof x.code === 'string' && (UNAVAILABLE_CODES.has(x.code) || UNAVAILABLE_SQLITE.test(x.code))) return true;
  if (typeof x.errno === 'number' && UNAVAILABLE_ERRNOS.has(x.errno)) return true;
  // Only the driver's own words: the statement before them may hold any value.
  return UNAVAILABLE_WORDS.test(driverMessage(e));
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
  private stopped = false;

  constructor(
    orm: Pick<MikroORM, 'em' | 'config'>,
    private readonly logger: Logger,
    private readonly probeIntervalMs = 1_000,
    private readonly probeStore: () => Promise<unknown> = storeProbe(orm),
  ) {}

  get down(): boolean {
    return this.since !== undefined;
  }

  report(err: unknown): boolean {
    if (!isStoreUnavailable(err)) return false;
    this.failures += 1;
    if (this.since !== undefined || this.stopped) return true;
    this.since = Date.now();
    this.failures = 1;
    this.logger.error({ cause: describeStoreError(err) }, 'store unavailable: requests that need it are answered 503 until it is back');
    this.scheduleProbe();
    return true;
  }

  /** The next probe a full interval after the last one ended: probes never overlap, however slow. */
  private scheduleProbe(): void {
    this.probe = setTimeout(() => void this.check(), this.probeIntervalMs);
    this.probe.unref();
  }

  /** Any answer that is not an outage (even an error of the probe's own) means the store is back. */
  private async check(): Promise<void> {
    this.probe = undefined;
    if (this.since === undefined || this.stopped) return;
    try {
      await this.probeStore();
    } catch (err) {
      if (isStoreUnavailable(err)) {
        if (!this.stopped) this.scheduleProbe();
        return;
      }
    }
    if (this.since === undefined || this.stopped) return;
    this.logger.warn({ downForMs: Date.now() - this.since, failedRequests: this.failures }, 'store available again');
    this.since = undefined;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.probe);
    this.probe = undefined;
  }
}

/** The cause of a store failure as it may be logged: error class, driver code and number, the driver's words; no SQL, no values. */
export function describeStoreError(err: unknown): Record<string, unknown> {
  const link = unavailableLink(err);
  if (link) return { ...driverErrorView(link) };
  return err instanceof Error ? { type: err.name } : { type: typeof err };
}
