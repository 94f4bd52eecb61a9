import type { ServerResponse } from 'node:http';

/** The original's error codes for the passthrough (1405000 + offset). */
export const CODES = {
  missingHeader: 1405007,
  internal: 1405050,
  noMesosDriver: 1405051,
  upstreamFailed: 1405053,
  noK8sDriver: 1405056,
  forbidden: 1405058,
  unauthorized: 1405059,
  badRequest: 1405061,
  /** The original's dbError; here: the store cannot be reached (503, Retry-After). */
  dbError: 1405062,
  badYaml: 1405065,
  webhookFailed: 1405234,
} as const;

/** `{result, code, message, data}` with the original's `(bcs-api):` message prefix on errors. */
export function sendEnvelopeError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ result: false, code, message: `(bcs-api):${message}`, data: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendEnvelope(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
