import { DriverException } from '@mikro-orm/core';

/**
 * What of a failed store call may be shown (in logs): errors of MikroORM, knex, mysql2 and better-sqlite3
 * carry the failed statement with its values inlined (knex prefixes `<sql> - ` to the driver's message,
 * and MikroORM's DriverException keeps that message), and knex adds `sql` and `bindings` properties. A
 * token lookup's statement holds the SHA-256 digest of the caller's token, so none of it is kept.
 */

/** Codes only drivers use: MySQL server (ER_), client (CR_) and protocol errors, SQLite result codes. */
const DRIVER_CODE = /^(ER_|CR_|PROTOCOL_|SQLITE_)/;
/** How a statement starts (knex's prefix, MikroORM's message). */
const STATEMENT_START = /^\s*\(?\s*(select|insert|update|delete|replace|with|create|alter|drop|truncate|pragma|set|show|begin|start|commit|rollback|savepoint|release|lock|unlock|explain|call)\b/i;
/** A statement anywhere in a longer text (an error message that quotes a driver's). */
const STATEMENT_INSIDE = /\b(select\s[\s\S]*?\sfrom\s|insert\s+(ignore\s+)?into\s|update\s+[`"\w.]+\s+set\s|delete\s+from\s|replace\s+into\s)/i;
/** A quoted fragment kept as is after these words: an identifier (key, table, column), not a value. */
const IDENTIFIER_BEFORE = /\b(key|table|column|database|schema|index|constraint|field|procedure|function|trigger|view)\s*$/i;
const IDENTIFIER = /^'[\w.$-]{1,64}'$/;
/** Hex runs as long as a digest (token lookups are by SHA-256 hex). */
const LONG_HEX = /\b[0-9a-f]{32,}\b/gi;
const MAX_MESSAGE = 300;

export const STATEMENT_OMITTED = '[statement omitted]';

/** True for errors raised by the store's driver stack (their message and properties may hold SQL and values). */
export function isDriverError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof DriverException || err.name === 'KnexTimeoutError' || err.name === 'SqliteError') return true;
  const x = err as unknown as Record<string, unknown>;
  // mysql2 marks every error it raises `fatal` (true when the connection is lost).
  if (typeof x['sqlState'] === 'string' || typeof x['sqlMessage'] === 'string' || typeof x['fatal'] === 'boolean' || 'sql' in x || 'bindings' in x) return true;
  if (typeof x['code'] === 'string' && DRIVER_CODE.test(x['code'])) return true;
  return STATEMENT_START.test(err.message) && err.message.includes(' - ');
}

/** Values in a driver's own message (`Duplicate entry '…' for key 'name'`) masked; identifiers kept. */
function maskValues(message: string): string {
  return message
    .replace(/'(?:[^'\\]|\\.|'')*'/g, (quoted, offset: number) => (IDENTIFIER.test(quoted) && IDENTIFIER_BEFORE.test(message.slice(Math.max(0, offset - 24), offset)) ? quoted : "'…'"))
    .replace(LONG_HEX, '[hex]');
}

/** A text with any statement in it cut out (up to knex's ` - ` before the driver's own words). */
export function withoutStatements(text: string): string {
  const m = STATEMENT_INSIDE.exec(text) ?? (STATEMENT_START.test(text) ? { index: 0 } : null);
  const cleaned = m ? cutStatement(text, m.index) : text;
  return cleaned.replace(LONG_HEX, '[hex]');
}

function cutStatement(text: string, start: number): string {
  const dash = text.lastIndexOf(' - ');
  return dash > start ? `${text.slice(0, start)}${STATEMENT_OMITTED} - ${text.slice(dash + 3)}` : `${text.slice(0, start)}${STATEMENT_OMITTED}`;
}

/** The driver's own message of a driver error (`connect ECONNREFUSED 127.0.0.1:3306`), without the statement. */
export function driverMessage(err: Error): string {
  const x = err as unknown as Record<string, unknown>;
  let message: string;
  if (typeof x['sqlMessage'] === 'string' && x['sqlMessage']) message = x['sqlMessage'];
  else {
    message = err.message;
    const sql = x['sql'];
    if (typeof sql === 'string' && sql && message.startsWith(sql)) message = message.slice(sql.length).replace(/^ - /, '');
    else if (STATEMENT_START.test(message)) {
      const dash = message.lastIndexOf(' - ');
      message = dash >= 0 ? message.slice(dash + 3) : STATEMENT_OMITTED;
    }
  }
  const masked = maskValues(message);
  return masked.length > MAX_MESSAGE ? `${masked.slice(0, MAX_MESSAGE)}…` : masked;
}

export interface DriverErrorView {
  type: string;
  code?: string;
  errno?: number;
  sqlState?: string;
  message: string;
}

/** Type, code, errno, sqlState and the driver's own message: all of a driver error that may be logged. */
export function driverErrorView(err: Error): DriverErrorView {
  const x = err as unknown as Record<string, unknown>;
  return {
    type: err.name || err.constructor.name,
    ...(typeof x['code'] === 'string' ? { code: x['code'] } : {}),
    ...(typeof x['errno'] === 'number' ? { errno: x['errno'] } : {}),
    ...(typeof x['sqlState'] === 'string' && x['sqlState'] ? { sqlState: x['sqlState'] } : {}),
    message: driverMessage(err),
  };
}

/** The `at …` lines of a stack (its header repeats the message, statement included). */
export function stackFrames(stack: unknown): string {
  if (typeof stack !== 'string') return '';
  return stack
    .split('\n')
    .filter((line) => /^\s+at\s/.test(line))
    .join('\n');
}
