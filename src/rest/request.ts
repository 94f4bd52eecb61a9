import type { IncomingMessage } from 'node:http';
import { readBody } from '../http/respond';
import type { RequestInfo } from '../http/types';
import { authenticate, bearerFrom } from '../domain/auth';
import type { DomainContext, Principal } from '../domain/context';
import { UnauthenticatedError } from '../errors';
import { ApiError, ERRCODE } from './render';

/** Credential reports and user/cluster bodies are small; a 256 KiB cap leaves room for CA bundles. */
export const BODY_LIMIT = 256 * 1024;

export type JsonObject = Record<string, unknown>;

/** What a route handler gets: the request, its path parameters and query, and one unit of work. */
export interface Call {
  req: IncomingMessage;
  info: RequestInfo;
  params: Record<string, string>;
  query: URLSearchParams;
  ctx: DomainContext;
}

function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/**
 * Reads the body as a JSON object. An empty body is `{}` (so required fields are reported by name);
 * a non-empty body must be declared JSON (as the original's `Consumes(application/json)`), must parse,
 * and must be an object. Parser messages are not echoed: they quote the input, which may hold tokens.
 */
export async function readJsonObject(req: IncomingMessage): Promise<JsonObject> {
  let raw: Buffer;
  try {
    raw = await readBody(req, BODY_LIMIT);
  } catch (err) {
    if ((err as { tooLarge?: boolean }).tooLarge) throw new ApiError(413, 'REQUEST_TOO_LARGE', ERRCODE.parametersFailed, `request body exceeds ${BODY_LIMIT} bytes`);
    throw err;
  }
  const text = raw.toString('utf8');
  if (text.trim() === '') return {};
  if (!isJsonType(req.headers['content-type'])) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', ERRCODE.mediaType, 'request body must be sent with Content-Type: application/json');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = /end of JSON input/i.test((err as Error).message) ? ' (unexpected end of input)' : '';
    throw new ApiError(400, 'INVALID_JSON', ERRCODE.parametersFailed, `request body is not valid JSON${detail}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError(400, 'INVALID_JSON', ERRCODE.parametersFailed, 'request body must be a JSON object');
  }
  return value as JsonObject;
}

/** The password of an HTTP Basic Authorization header (the original takes it as the token). */
export function basicPasswordFrom(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = value ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value) : null;
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined;
}

export interface AuthOptions {
  /** Accept the password of HTTP Basic auth as the token (the original's super-user routes). */
  allowBasic?: boolean;
}

/** Authenticates the caller by bearer token (or basic-auth password where allowed). */
export async function principalOf(call: Call, opts: AuthOptions = {}): Promise<Principal> {
  const header = call.req.headers.authorization;
  const token = bearerFrom(header) ?? (opts.allowBasic ? basicPasswordFrom(header) : undefined);
  if (!token && call.query.has('access_token')) {
    throw new UnauthenticatedError('access_token (PaaS) authentication is not supported by this gateway; send Authorization: Bearer <token>');
  }
  return authenticate(call.ctx.em, token, call.ctx.now());
}

/** Who may act on the user-manager surface: admin (super users), saas, or any user. */
export function isAdmin(p: Principal): boolean {
  return p.user.isSuperUser;
}
