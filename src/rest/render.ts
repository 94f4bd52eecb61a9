import type { ServerResponse } from 'node:http';
import { sendJson } from '../http/respond';
import { isGatewayError, NotFoundError, ValidationError, type GatewayError } from '../errors';
import { STORE_RETRY_AFTER_SECONDS, STORE_UNAVAILABLE_MESSAGE } from '../store/outage';

/** The original's numeric codes (1405000 + offset, `COMMON/errorCode.go`). */
export const ERRCODE = {
  parametersFailed: 1405007,
  internal: 1405050,
  noAuthority: 1405058,
  unauthorized: 1405059,
  clusterNotFound: 1405060,
  badRequest: 1405061,
  dbError: 1405062,
  mediaType: 1405065,
} as const;

/**
 * An error already decided for the wire: HTTP status, the /rest `code_name`, the numeric code and text,
 * and for a 503 the seconds after which a retry may succeed (sent as `Retry-After`).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly codeName: string,
    readonly errcode: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * The database cannot be reached: 503 with the original's dbError code (1405062, which it sent for
 * every failed query) and `STORE_UNAVAILABLE`, so clients can tell an outage worth retrying from a bug.
 */
export function storeUnavailable(): ApiError {
  return new ApiError(503, 'STORE_UNAVAILABLE', ERRCODE.dbError, STORE_UNAVAILABLE_MESSAGE, STORE_RETRY_AFTER_SECONDS);
}

/** A route's own translation of domain errors (e.g. CONFLICT → USER_ALREADY_EXISTS); undefined = default. */
export type ErrorMapper = (err: GatewayError) => ApiError | undefined;

/** The default translation of the gateway's error vocabulary into the original's codes. */
export function classify(err: unknown, mapper?: ErrorMapper): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (!isGatewayError(err)) return undefined;
  const mapped = mapper?.(err);
  if (mapped) return mapped;
  switch (err.code) {
    case 'UNAUTHENTICATED': {
      const reason = err.details['reason'];
      // Register-token failures are the original's 400 RTOKEN_NOT_FOUND / INVALID_RTOKEN.
      if (typeof reason === 'string') return new ApiError(400, reason, ERRCODE.badRequest, err.message);
      return new ApiError(401, 'UNAUTHORIZED', ERRCODE.unauthorized, err.message);
    }
    case 'FORBIDDEN':
      return new ApiError(403, 'FORBIDDEN', ERRCODE.noAuthority, err.message);
    case 'BAD_USER_INPUT':
      return new ApiError(400, 'VALIDATION_ERROR', ERRCODE.badRequest, err.message);
    case 'NOT_FOUND':
      return notFound(err as NotFoundError);
    case 'CONFLICT':
      return new ApiError(400, 'ALREADY_EXISTS', ERRCODE.badRequest, err.message);
    case 'UNAVAILABLE':
      return new ApiError(503, 'SERVICE_UNAVAILABLE', ERRCODE.internal, err.message, STORE_RETRY_AFTER_SECONDS);
    default:
      return undefined;
  }
}

function notFound(err: NotFoundError): ApiError {
  switch (err.kind) {
    case 'cluster':
      return new ApiError(404, 'CLUSTER_NOT_FOUND', ERRCODE.clusterNotFound, `cluster ${err.key} not found`);
    case 'user':
      return new ApiError(404, 'USER_NOT_FOUND', ERRCODE.badRequest, err.message);
    // The original answers these two with 400; clients and agents match on the code_name.
    case 'credentials':
      return new ApiError(400, 'CREDENTIALS_NOT_FOUND', ERRCODE.badRequest, 'no credentials found');
    case 'register token':
      return new ApiError(400, 'RTOKEN_NOT_FOUND', ERRCODE.badRequest, 'register token not found');
    default:
      return new ApiError(404, 'NOT_FOUND', ERRCODE.badRequest, err.message);
  }
}

export const isValidationOf = (err: GatewayError, field: string): boolean => err instanceof ValidationError && err.field === field;

function headersOf(e: ApiError, headers: Record<string, string>): Record<string, string> {
  return e.retryAfterSeconds === undefined ? headers : { ...headers, 'retry-after': String(e.retryAfterSeconds) };
}

/** `/rest` style error body. */
export function sendRestError(res: ServerResponse, e: ApiError, headers: Record<string, string> = {}): void {
  sendJson(res, e.status, { code_name: e.codeName, message: `errcode: ${e.errcode}, ${e.message}` }, headersOf(e, headers));
}

/** bcs-user-manager envelope. */
export function sendEnvelope(res: ServerResponse, status: number, data: unknown): void {
  sendJson(res, status, { result: true, code: 0, message: 'success', data });
}

export function sendEnvelopeError(res: ServerResponse, e: ApiError, headers: Record<string, string> = {}): void {
  sendJson(res, e.status, { result: false, code: e.errcode, message: `errcode: ${e.errcode}, ${e.message}`, data: null }, headersOf(e, headers));
}

/**
 * Go's RFC 3339 with nanoseconds (`time.RFC3339Nano`): trailing zeros of the fraction are dropped, so
 * `2024-01-02T03:04:05.120Z` becomes `2024-01-02T03:04:05.12Z` and whole seconds have no fraction.
 */
export function goTime(d: Date): string;
export function goTime(d: Date | null | undefined): string | null;
export function goTime(d: Date | null | undefined): string | null {
  if (!d) return null;
  return d.toISOString().replace(/\.(\d*?)0+Z$/, (_m, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}
