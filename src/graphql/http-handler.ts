import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type HTTPGraphQLResponse } from '@apollo/server';
import { sendGraphiql, wantsGraphiql } from '../http/graphiql';
import { readBody, sendJson } from '../http/respond';
import type { HttpHandler, RequestInfo } from '../http/types';
import type { GraphqlContext } from './context';
import { requestScope } from './errors';

export const GRAPHQL_PATH = '/graphql';

/** Far above any real operation; armor's token limit rejects big documents long before this. */
const MAX_BODY_BYTES = 1024 * 1024;

type BodyResult = { ok: true; body: unknown } | { ok: false; status: number; message: string; reason: string };

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
  const tooLarge = { ok: false, status: 413, message: `request body exceeds ${MAX_BODY_BYTES} bytes`, reason: 'PAYLOAD_TOO_LARGE' } as const;
  // Refused before reading: Node then discards the body and the client reliably gets the 413, where
  // aborting a half-read body resets the connection under it.
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return tooLarge;
  let raw: Buffer;
  try {
    raw = await readBody(req, MAX_BODY_BYTES);
  } catch (err) {
    if ((err as { tooLarge?: boolean }).tooLarge) return tooLarge;
    throw err;
  }
  if (!isJson(req.headers['content-type'])) return { ok: true, body: undefined };
  try {
    return { ok: true, body: JSON.parse(raw.toString('utf8')) as unknown };
  } catch {
    return { ok: false, status: 400, message: 'request body is not valid JSON', reason: 'INVALID_JSON' };
  }
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
    if (!read.ok) {
      sendJson(res, read.status, { errors: [{ message: read.message, extensions: { code: 'BAD_USER_INPUT', reason: read.reason } }] });
      return;
    }
    const response = await requestScope.run(info, () =>
      server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers: headerMap(req), search: url.search, body: read.body },
        context: () => createContext(req, info),
      }),
    );
    await writeResponse(res, response);
  };
}
