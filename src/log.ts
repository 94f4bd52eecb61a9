import pino, { type Logger } from 'pino';
import { driverErrorView, isDriverError, stackFrames, withoutStatements } from './store/driver-error';

export type { Logger };

/** `service` on every log line, audit lines included. */
export const SERVICE_NAME = 'bcs-api';

/** Properties of errors that hold a statement or its values (knex, mysql2), never logged. */
const STATEMENT_KEYS = new Set(['sql', 'bindings', 'sqlMessage', 'errmsg', 'parameters', 'params', 'query']);
const MAX_CAUSE_DEPTH = 5;

/**
 * The `err` / `error` / `cause` serializer. Driver and ORM errors keep their type, code, errno, sqlState
 * and the driver's own message (values masked) and the stack's frames, never the statement or its
 * values; other errors are serialized as pino does (type, message, stack, own properties), with any
 * statement cut out of their message, and their causes serialized the same way. Strings (an error's
 * message logged on its own) lose any statement too; anything else passes through.
 */
export function serializeError(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return withoutStatements(value);
  if (!(value instanceof Error)) return value;
  if (isDriverError(value)) {
    const view = driverErrorView(value);
    const frames = stackFrames(value.stack);
    return { ...view, stack: frames ? `${view.type}: ${view.message}\n${frames}` : `${view.type}: ${view.message}` };
  }
  const type = typeof value.constructor === 'function' ? value.constructor.name : value.name;
  const message = withoutStatements(value.message);
  const frames = stackFrames(value.stack);
  const out: Record<string, unknown> = { type, message, stack: frames ? `${value.name}: ${message}\n${frames}` : `${value.name}: ${message}` };
  for (const [key, v] of Object.entries(value)) {
    if (key in out || key === 'cause' || STATEMENT_KEYS.has(key)) continue;
    out[key] = v instanceof Error ? serializeError(v, depth + 1) : v;
  }
  if (value.cause !== undefined && depth < MAX_CAUSE_DEPTH) out['cause'] = serializeError(value.cause, depth + 1);
  if (value instanceof AggregateError && depth < MAX_CAUSE_DEPTH) out['aggregateErrors'] = value.errors.map((e: unknown) => serializeError(e, depth + 1));
  return out;
}

/** What `logger.error(err)` (an error and no message) uses as the message: pino would take err.message whole. */
function messageOf(err: Error): string {
  return isDriverError(err) ? driverErrorView(err).message : withoutStatements(err.message);
}

/**
 * One JSON line per event. Anything that could carry a secret is censored wherever it appears, as a
 * second line of defence: code should not log such values in the first place. Errors are serialized
 * without SQL text or values (serializeError).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: SERVICE_NAME },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          '*.token',
          '*.secret',
          '*.password',
          '*.register_token',
          '*.user_token',
          '*.registerToken',
          '*.userToken',
        ],
        censor: '[redacted]',
      },
      serializers: { err: (v: unknown) => serializeError(v), error: (v: unknown) => serializeError(v), cause: (v: unknown) => serializeError(v) },
      hooks: {
        logMethod(args, method) {
          const [first, second] = args as unknown[];
          if (first instanceof Error && typeof second !== 'string') return method.call(this, { err: first }, messageOf(first));
          return method.apply(this, args);
        },
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
