import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2 (Node throws on most of them),
 * and `host` travels as `:authority`. The pipeline has already dropped these; this is the last gate
 * before the wire, so a header added later can never turn into a malformed or smuggled h2 request.
 */
const NOT_IN_H2_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);

/** Response fields that describe the upstream hop, not the response; Node's HTTP/1.1 server sets its own. */
const NOT_IN_H1_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer', 'te']);

/**
 * Fields the HTTP/1.1 client sets itself (framing, connection reuse) or that were answered at this hop:
 * the gateway's server already sent `100 Continue` for an `Expect`, so the body is on its way regardless.
 */
const NOT_IN_H1_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host', 'expect', 'te']);

/**
 * The HTTP/1.1 request headers for an admitted request, with the Host of the address it goes to, then
 * every other field in the admitted order (the gateway's own first; undici writes them as listed).
 */
export function h1RequestHeaders(headers: OutgoingHttpHeaders, host: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { host };
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower.charCodeAt(0) === 58 /* ':' */ || NOT_IN_H1_REQUEST.has(lower)) continue;
    out[lower] = typeof value === 'number' ? String(value) : value;
  }
  return out;
}

/** An HTTP/1.1 response's raw header lines (name, value, ...) without hop-by-hop fields, names as sent. */
export function h1RawResponseHeaders(raw: readonly (Buffer | string)[]): string[] {
  const out: string[] = [];
  const text = (v: Buffer | string): string => (typeof v === 'string' ? v : v.toString('latin1'));
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = text(raw[i]!);
    if (!NOT_IN_H1_RESPONSE.has(name.toLowerCase())) out.push(name, text(raw[i + 1]!));
  }
  return out;
}

/** The h2 request for an admitted request: pseudo-headers first, then every forwardable header in the admitted order. */
export function h2RequestHeaders(method: string, path: string, authority: string, headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': method, ':path': path, ':authority': authority, ':scheme': 'https' };
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower.charCodeAt(0) === 58 /* ':' */ || NOT_IN_H2_REQUEST.has(lower)) continue;
    if (lower === 'te' && String(value).trim().toLowerCase() !== 'trailers') continue;
    out[lower] = value;
  }
  return out;
}

/** An h2 response's header block as HTTP/1.1 response headers: no pseudo-headers, no hop-by-hop fields. */
export function h1ResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 || NOT_IN_H1_RESPONSE.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}
