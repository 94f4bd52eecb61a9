import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Fields whose meaning changes when a request carries two of them: which host, which credential, which
 * body type, which framing. Node keeps only the first of most of them in `req.headers` (and h2 keeps the
 * first too), while a proxy or server behind us may pick the last, so a second line is refused outright
 * (RFC 9112 §3.2 for Host; nginx answers 400 the same way). Bits of one mask, so the check allocates nothing.
 */
const HOST = 1;
const AUTHORIZATION = 2;
const USER_TOKEN = 4;
const CONTENT_TYPE = 8;
const TRANSFER_ENCODING = 16;
const DISPLAY_NAMES: Record<number, string> = {
  [HOST]: 'Host',
  [AUTHORIZATION]: 'Authorization',
  [USER_TOKEN]: 'X-Bcs-User-Token',
  [CONTENT_TYPE]: 'Content-Type',
  [TRANSFER_ENCODING]: 'Transfer-Encoding',
};

/** Paths of the tunnel: kubectl prints a Kubernetes `Status` body, so that is what they get. */
const KUBERNETES_PATHS = '/tunnels/';

/** `name` equals `lower` (a lower-case ASCII literal) in any letter case; no string is made. */
function sameName(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i += 1) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The mask bit of one of the guarded fields, or 0; the names' lengths differ, so one comparison at most. */
function guardedBit(name: string): number {
  switch (name.length) {
    case 4:
      return sameName(name, 'host') ? HOST : 0;
    case 12:
      return sameName(name, 'content-type') ? CONTENT_TYPE : 0;
    case 13:
      return sameName(name, 'authorization') ? AUTHORIZATION : 0;
    case 16:
      return sameName(name, 'x-bcs-user-token') ? USER_TOKEN : 0;
    case 17:
      return sameName(name, 'transfer-encoding') ? TRANSFER_ENCODING : 0;
    default:
      return 0;
  }
}

/** Host names compare without regard to letter case (RFC 9110 §4.2.3); ports and the rest exactly. */
function sameAuthority(a: string, b: string): boolean {
  return a.length === b.length && a.toLowerCase() === b.toLowerCase();
}

/**
 * What is wrong with a request's header lines, or undefined. One pass over `rawHeaders` (every line as
 * sent, duplicates kept; HTTP/2 pseudo-headers included), no allocation unless an HTTP/2 request also
 * carries `host`. The message names the field, never a value (it may be a credential).
 */
export function headerViolation(rawHeaders: readonly string[]): string | undefined {
  let seen = 0;
  let host: string | undefined;
  let authority: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const bit = guardedBit(name);
    if (bit === 0) {
      if (name.charCodeAt(0) === 58 /* ':' */ && name === ':authority') authority = rawHeaders[i + 1];
      continue;
    }
    if ((seen & bit) !== 0) return `duplicate "${DISPLAY_NAMES[bit]}" header: send it once`;
    seen |= bit;
    if (bit === HOST) host = rawHeaders[i + 1];
  }
  // RFC 9113 §8.3.1: an HTTP/2 request whose Host names another authority than `:authority` is malformed.
  if (host !== undefined && authority !== undefined && !sameAuthority(host.trim(), authority.trim())) {
    return 'the "host" header names another authority than ":authority": send one host';
  }
  return undefined;
}

function rejectionBody(path: string, message: string): { type: string; body: string } {
  if (path.startsWith(KUBERNETES_PATHS)) {
    // The shape of proxy/k8s/status.ts (src may not import proxy): kubectl prints `Error from server (BadRequest): <message>`.
    return { type: 'application/json', body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'BadRequest', code: 400 }) };
  }
  return { type: 'application/json; charset=utf-8', body: JSON.stringify({ code: 'BAD_REQUEST', message }) };
}

/**
 * Answers 400 for a request refused by `headerViolation`. An HTTP/1.1 connection is closed after it:
 * with two framing or host lines, what follows on the connection cannot be trusted to be a request.
 */
export function refuseHeaders(req: IncomingMessage, res: ServerResponse, path: string, message: string, requestId: string): void {
  const { type, body } = rejectionBody(path, message);
  const headers: Record<string, string | number> = { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-request-id': requestId };
  // HTTP/2 has no Connection field (Node throws on it); its stream ends with the response.
  if (req.httpVersionMajor < 2) headers.connection = 'close';
  res.writeHead(400, headers);
  res.end(body);
}

/** The same 400 on the raw socket of an upgrade request; the connection is closed after it. */
export function refuseUpgradeHeaders(socket: Duplex, path: string, message: string, requestId: string): void {
  const { type, body } = rejectionBody(path, message);
  const head = `HTTP/1.1 400 Bad Request\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n`;
  if (socket.writable) socket.end(head + body);
  else socket.destroy();
}
