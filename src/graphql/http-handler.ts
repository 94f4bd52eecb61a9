import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type HTTPGraphQLResponse } from '@apollo/server';
import { sendGraphiql, wantsGraphiql } from '../http/graphiql';
import { readBody, sendJson } from '../http/respond';
import type { HttpHandler, RequestInfo } from '../http/types';
import type { GraphqlContext } from './context';
import { describeLimit } from './limits';
import { checkVariables, type VariableViolation } from './variable-limits';

export const GRAPHQL_PATH = '/graphql';

/** Far above any real operation: the document is at most 1,000 tokens and the variables 128 KiB. */
const MAX_BODY_BYTES = 1024 * 1024;

interface Refusal {
  status: number;
  message: string;
  extensions: Record<string, unknown>;
}

type BodyResult = { ok: true; body: unknown } | ({ ok: false } & Refusal);

/** JSON is UTF-8 (RFC 8259); a body that is not would otherwise reach the parser with U+FFFD in it. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

function badRequest(message: string): BodyResult {
  return { ok: false, status: 400, message, extensions: { code: 'BAD_REQUEST' } };
}

function isJson(contentType: string | undefined): boolean {
  const essence = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return essence === 'application/json' || essence.endsWith('+json');
}

/**
 * Only JSON bodies are parsed. Anything else reaches Apollo without a body, so its CSRF check
 * rejects simple (preflight-free) requests before any context or resolver runs.
 */
async function readGraphqlBody(req: IncomingMessage): Promise<BodyResult> {
  if (req.method !== 'POST') return { ok: true, body: undefined };
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooLarge = (found?: number): BodyResult => {
    const { message, extensions } = describeLimit('body-bytes', MAX_BODY_BYTES, found);
    return { ok: false, status: 413, message, extensions: { ...extensions, code: 'BAD_REQUEST' } };
  };
  // Refused before reading: Node then discards the body and the client reliably gets the 413, where
  // aborting a half-read body resets the connection under it.
  if (declared > MAX_BODY_BYTES) return tooLarge(declared);
  let raw: Buffer;
  try {
    raw = await readBody(req, MAX_BODY_BYTES);
  } catch (err) {
    if ((err as { tooLarge?: boolean }).tooLarge) return tooLarge();
    throw err;
  }
  if (!isJson(req.headers['content-type'])) return { ok: true, body: undefined };
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return badRequest('request body is not valid UTF-8');
  }
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return badRequest('request body is not valid JSON');
  }
}

/**
 * The variables' limits, before Apollo coerces them: a POST body's `variables` member, or the
 * `variables` parameter of a GET (measured as sent). Shapes Apollo refuses anyway are left to it.
 */
function variablesRefusal(body: unknown, search: URLSearchParams): Refusal | null {
  let violation: VariableViolation | null;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    violation = checkVariables((body as { variables?: unknown }).variables);
  } else {
    const param = search.get('variables');
    if (param === null) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(param);
    } catch {
      return null;
    }
    violation = checkVariables(parsed, Buffer.byteLength(param));
  }
  return violation && { status: 400, ...describeLimit(violation.limit, violation.max, violation.found) };
}

function refuse(res: ServerResponse, refusal: Refusal): void {
  sendJson(res, refusal.status, { errors: [{ message: refusal.message, extensions: refusal.extensions }] });
}

function headerMap(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    // HTTP/2 pseudo-headers (`:authority`, ...) are not request headers.
    if (value !== undefined && key.charCodeAt(0) !== 58) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

async function writeResponse(res: ServerResponse, response: HTTPGraphQLResponse): Promise<void> {
  for (const [key, value] of response.headers) res.setHeader(key, value);
  res.statusCode = response.status ?? 200;
  if (response.body.kind === 'complete') {
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

/** Apollo on our own listener, the way @apollo/server's standalone integration drives it. */
export function graphqlHttpHandler(
  server: ApolloServer<GraphqlContext>,
  createContext: (req: IncomingMessage, info: RequestInfo) => Promise<GraphqlContext>,
): HttpHandler {
  return async (req, res, info) => {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    if (url.pathname !== GRAPHQL_PATH && url.pathname !== `${GRAPHQL_PATH}/`) {
      sendJson(res, 404, { code: 'NOT_FOUND', message: `no route for ${url.pathname}` });
      return;
    }
    if (wantsGraphiql(req)) {
      sendGraphiql(res, GRAPHQL_PATH);
      return;
    }
    const read = await readGraphqlBody(req);
    if (!read.ok) return refuse(res, read);
    const refusal = variablesRefusal(read.body, url.searchParams);
    if (refusal) return refuse(res, refusal);
    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers: headerMap(req), search: url.search, body: read.body },
      context: () => createContext(req, info),
    });
    await writeResponse(res, response);
  };
}
