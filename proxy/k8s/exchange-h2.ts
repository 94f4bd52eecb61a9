import http2 from 'node:http2';
import type { Exchange } from './exchange';
import type { H2Conn, H2Pool } from './h2-pool';
import { h1ResponseHeaders, h2RequestHeaders } from './wire-headers';

/** Stream failures that say the request was not processed and the session is going: safe to send again. */
const H2_SESSION_GONE = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_STREAM_CANCEL']);
const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** Sends the exchange as a stream of the address's HTTP/2 session. */
export function viaH2(x: Exchange, target: URL, pool: H2Pool, conn: H2Conn): void {
  const { req, res, opts } = x;
  const stale = conn.used;
  conn.used = true;
  let stream: http2.ClientHttp2Stream;
  try {
    const a = x.admitted!;
    stream = conn.session.request(h2RequestHeaders(x.method, a.upstreamPath, target.host, a.headers), { endStream: x.bodiless });
  } catch (err) {
    // The session closed between being handed out and used (GOAWAY, peer gone).
    pool.release(conn);
    pool.forget(conn);
    x.onFailure(target, err as NodeJS.ErrnoException, true, true);
    return;
  }
  // RST_STREAM(CANCEL): the apiserver stops this watch; the session and its other streams go on.
  x.cancel = () => {
    if (!stream.closed) stream.close(NGHTTP2_CANCEL);
  };
  let status = 0;
  let ended = false;
  let failure: NodeJS.ErrnoException | undefined;
  stream.once('response', (headers) => {
    status = Number(headers[':status']) || 502;
    const head = h1ResponseHeaders(headers);
    if (opts.requestId) head['x-request-id'] = opts.requestId;
    x.relay(() => res.writeHead(status, head), stream);
  });
  stream.once('end', () => {
    ended = true;
    if (status) x.finish(status);
  });
  stream.once('error', (err: NodeJS.ErrnoException) => (failure = err));
  stream.once('close', () => {
    pool.release(conn);
    if (x.settled || ended) return;
    if (status) {
      // Reset or session lost mid-body: the client must see a broken response, not a short one.
      res.destroy();
      x.finish(status, 'reset');
      return;
    }
    const err = failure ?? Object.assign(new Error(`upstream stream closed (code ${stream.rstCode})`), { code: 'ECONNRESET' });
    // REFUSED_STREAM and a GOAWAY that came before this stream was processed: not handled, safe to resend.
    const notProcessed = stream.rstCode === NGHTTP2_REFUSED_STREAM || H2_SESSION_GONE.has(err.code ?? '');
    x.onFailure(target, err, true, stale || notProcessed);
  });
  if (x.bodiless) {
    req.resume();
    return;
  }
  if (x.sendsBody()) {
    req.on('data', (c: Buffer) => (x.bytesIn += c.length));
    req.pipe(stream);
    return;
  }
  req.resume();
  stream.end();
}
