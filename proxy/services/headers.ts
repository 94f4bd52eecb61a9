import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { isIndexLikeName } from '../shared/header-budget';

/** RFC 9110 §7.6.1 connection-specific fields, the legacy ones, and `Expect` (answered by this gateway). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'expect']);

/**
 * The caller's credentials for this gateway and identity assertions: a gateway token must never reach a
 * backend module (the original forwarded them all). `Host` is the upstream's, set by the client library.
 */
const CREDENTIALS = new Set(['authorization', 'x-bcs-user-token', 'x-bkapi-jwt', 'cookie', 'host']);

const canonical = (name: string): string => name.toLowerCase().replace(/_/g, '-');

/** Names listed in a `Connection` field (lower case). */
function connectionNamed(value: string | string[] | undefined): Set<string> {
  const named = new Set<string>();
  if (value === undefined) return named;
  for (const token of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = token.trim().toLowerCase();
    if (name) named.add(name);
  }
  return named;
}

/**
 * What a module upstream receives: every client header except hop-by-hop ones (those named in
 * `Connection` included, so a client cannot strip headers set here), credentials, `Impersonate-*` and
 * HTTP/2 pseudo-headers. `BCS-ClusterID` and the rest pass. `X-Forwarded-For` gets the caller's address
 * appended, as the original's reverse proxy did.
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, remoteAddress: string): Record<string, string | string[]> {
  const named = connectionNamed(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.charCodeAt(0) === 58 || isIndexLikeName(name)) continue;
    const n = canonical(name);
    if (HOP_BY_HOP.has(n) || named.has(name) || named.has(n) || CREDENTIALS.has(n) || n.startsWith('impersonate-')) continue;
    out[name] = value;
  }
  const forwarded = headers['x-forwarded-for'];
  out['x-forwarded-for'] = forwarded ? `${Array.isArray(forwarded) ? forwarded.join(', ') : forwarded}, ${remoteAddress}` : remoteAddress;
  return out;
}

/** The upstream's response headers without its hop-by-hop ones (Node frames the body for our client). */
export function clientResponseHeaders(headers: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const named = connectionNamed(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}
