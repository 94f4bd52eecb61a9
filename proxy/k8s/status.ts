import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** A Kubernetes `Status` failure, the body kubectl prints as `Error from server (<reason>): <message>`. */
export interface StatusFailure {
  code: number;
  reason: string;
  message: string;
  details?: Record<string, unknown>;
  retryAfterSeconds?: number;
}

export function statusBody(f: StatusFailure): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: f.message,
    reason: f.reason,
    ...(f.details ? { details: f.details } : {}),
    code: f.code,
  });
}

export const failures = {
  unauthorized: (message = 'Unauthorized'): StatusFailure => ({ code: 401, reason: 'Unauthorized', message }),
  forbidden: (message: string): StatusFailure => ({ code: 403, reason: 'Forbidden', message }),
  notFound: (cluster: string): StatusFailure => ({
    code: 404,
    reason: 'NotFound',
    message: `clusters.bcs.tencent.com "${cluster}" not found`,
    details: { name: cluster, group: 'bcs.tencent.com', kind: 'clusters' },
  }),
  badRequest: (message: string): StatusFailure => ({ code: 400, reason: 'BadRequest', message }),
  /** A tunnel key that names more than one cluster (rows that collided before ids and identifiers shared a namespace). */
  ambiguousCluster: (key: string, clusterIds: readonly string[]): StatusFailure => ({
    code: 409,
    reason: 'Conflict',
    message: `cluster key "${key}" names ${clusterIds.length} clusters (${clusterIds.map((id) => `"${id}"`).join(', ')}) by id or tunnel identifier; an operator must rename or delete one of them before it can be used`,
    details: { name: key, group: 'bcs.tencent.com', kind: 'clusters' },
  }),
  unavailable: (message: string, retryAfterSeconds?: number): StatusFailure => ({
    code: 503,
    reason: 'ServiceUnavailable',
    message,
    ...(retryAfterSeconds ? { retryAfterSeconds, details: { retryAfterSeconds } } : {}),
  }),
  timeout: (message: string): StatusFailure => ({ code: 504, reason: 'Timeout', message }),
  /** Kubernetes has no reason of its own for 431; this is the HTTP name, which kubectl prints as given. */
  headersTooLarge: (message: string): StatusFailure => ({ code: 431, reason: 'RequestHeaderFieldsTooLarge', message }),
  tooMany: (message: string): StatusFailure => ({ code: 429, reason: 'TooManyRequests', message, retryAfterSeconds: 1, details: { retryAfterSeconds: 1 } }),
  internal: (message: string): StatusFailure => ({ code: 500, reason: 'InternalError', message: `Internal error occurred: ${message}` }),
};

export function writeStatus(res: ServerResponse, f: StatusFailure, requestId?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = statusBody(f);
  res.writeHead(f.code, {
    ...(requestId ? { 'x-request-id': requestId } : {}),
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(f.retryAfterSeconds ? { 'retry-after': String(f.retryAfterSeconds) } : {}),
  });
  res.end(body);
}

const REASON_PHRASES: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

/** The same Status on a raw socket (upgrade requests have no ServerResponse); the connection is closed after it. */
export function writeStatusToSocket(socket: Duplex, f: StatusFailure): void {
  const body = statusBody(f);
  const head = [
    `HTTP/1.1 ${f.code} ${REASON_PHRASES[f.code] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...(f.retryAfterSeconds ? [`Retry-After: ${f.retryAfterSeconds}`] : []),
  ];
  if (socket.writable) socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  else socket.destroy();
}
