import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';

/**
 * What keeps an error response small whatever the request: no message echoes a whole input value,
 * and one response carries a bounded number of errors in a bounded number of bytes, so a request never
 * draws an error response much larger than itself (at most max(4 KiB, its own size)).
 */
export const RESPONSE_BOUNDS = {
  /** Also graphql-js's own caps (validation errors, variable coercion errors): it stops collecting there. */
  errors: 10,
  messageChars: 300,
  locations: 5,
  /** The errors of one response together; the first error is always kept. */
  errorBytes: 3 * 1024,
} as const;

/** Cuts a message to `messageChars`, never in the middle of a surrogate pair. */
export function truncateMessage(message: string): string {
  if (message.length <= RESPONSE_BOUNDS.messageChars) return message;
  let cut = RESPONSE_BOUNDS.messageChars - 1;
  const last = message.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return `${message.slice(0, cut)}…`;
}

/**
 * graphql-js words a variable coercion error as `Variable "$v" got invalid value <the whole value> at
 * "v.path"; <reason>`. The value is dropped: the client sent it and the path says where the fault is.
 * `reasons` are the messages of the errors it wraps; the one it ends with marks where the value ends.
 */
export function withoutEchoedValue(message: string, reasons: readonly string[]): string {
  const head = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)" got invalid value /.exec(message);
  const reason = head ? reasons.find((r) => message.endsWith(`; ${r}`)) : undefined;
  if (!head || reason === undefined) return message;
  const middle = message.slice(head[0].length, message.length - reason.length - 2);
  const at = middle.lastIndexOf(` at "${head[1]}`);
  const where = at >= 0 && middle.endsWith('"') ? middle.slice(at) : '';
  return `Variable "$${head[1]}" got invalid value${where}; ${reason}`;
}

/**
 * The result as Apollo sends it, with at most `errors` errors within `errorBytes`; how many were left
 * out is in `extensions.omittedErrors`. Data is not touched (its size is bounded by the cost limit).
 */
export function stringifyBounded(result: FormattedExecutionResult): string {
  const errors = result.errors;
  if (!errors || errors.length <= 1) return `${JSON.stringify(result)}\n`;
  const kept: GraphQLFormattedError[] = [];
  let bytes = 0;
  for (const error of errors) {
    if (kept.length >= RESPONSE_BOUNDS.errors) break;
    const size = Buffer.byteLength(JSON.stringify(error)) + 1;
    if (kept.length > 0 && bytes + size > RESPONSE_BOUNDS.errorBytes) break;
    kept.push(error);
    bytes += size;
  }
  if (kept.length === errors.length) return `${JSON.stringify(result)}\n`;
  const extensions = { ...result.extensions, omittedErrors: errors.length - kept.length };
  return `${JSON.stringify({ ...result, errors: kept, extensions })}\n`;
}
