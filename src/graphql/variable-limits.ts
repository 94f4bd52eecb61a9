import type { LimitName } from './limits';

/**
 * Bounds on the `variables` of one request, checked before Apollo sees them. graphql-js quotes the
 * whole offending value in each coercion error, so 20,000 unknown keys once drew 10 MB of errors.
 *
 * The largest input this schema takes is an admission-webhook configuration: at most 32 webhooks, each
 * with its CA bundle (a few KiB of base64), plus 100 labels and 100 annotations; at the validators'
 * maxima that is about 830 object keys and, with 4096-bit CAs, up to ~90 KB. Real configurations hold
 * one to three webhooks (a few KiB, under 50 keys).
 */
export const VARIABLE_LIMITS = {
  /** Twice the largest configuration above; the REST routes take 256 KiB bodies for the same data. */
  bytes: 128 * 1024,
  /** Object keys at every level together; list items do not count (the byte bound covers them). */
  keys: 1000,
  /** The deepest input the schema accepts nests 6 levels, counting the variables object itself. */
  depth: 10,
} as const;

export interface VariableViolation {
  limit: Extract<LimitName, 'variables-bytes' | 'variables-keys' | 'variables-depth'>;
  max: number;
  found: number;
}

/** Keys and depth of a parsed JSON value, with an explicit stack: the body may nest 500,000 levels. */
function shapeOf(value: unknown): { keys: number; depth: number } {
  let keys = 0;
  let depth = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [node, level] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    depth = Math.max(depth, level);
    const children = Array.isArray(node) ? node : Object.values(node);
    if (!Array.isArray(node)) keys += children.length;
    for (const child of children) if (child !== null && typeof child === 'object') stack.push([child, level + 1]);
  }
  return { keys, depth };
}

/**
 * The first limit `variables` break, or null. `jsonBytes` is the size as sent when known (a GET
 * parameter); a POST body was parsed whole, so its variables are measured re-serialized.
 */
export function checkVariables(variables: unknown, jsonBytes?: number): VariableViolation | null {
  if (variables === undefined || variables === null) return null;
  const { keys, depth } = shapeOf(variables);
  if (depth > VARIABLE_LIMITS.depth) return { limit: 'variables-depth', max: VARIABLE_LIMITS.depth, found: depth };
  if (keys > VARIABLE_LIMITS.keys) return { limit: 'variables-keys', max: VARIABLE_LIMITS.keys, found: keys };
  const bytes = jsonBytes ?? Buffer.byteLength(JSON.stringify(variables));
  if (bytes > VARIABLE_LIMITS.bytes) return { limit: 'variables-bytes', max: VARIABLE_LIMITS.bytes, found: bytes };
  return null;
}
