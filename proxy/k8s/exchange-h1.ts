import type { Dispatcher } from 'undici';
import type { Exchange } from './exchange';
import { BodyWriter } from './body-writer';
import { h1RawResponseHeaders, h1RequestHeaders } from './wire-headers';
import { failures } from './status';

/** Failures of a request written to a kept-alive socket that the server closed meanwhile. */
const STALE_SOCKET = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** Sends the exchange over the address's HTTP/1.1 keep-alive pool (or a client of its own for a watch or follow). */
export function viaHttp1(x: Exchange, target: URL): void {
  const { req, res, opts, upstream } = x;
  let abortUpstream: ((err: Error) => void) | undefined;
  let status = 0;
  let onDrain: (() => void) | undefined;
  let out: BodyWriter | undefined;
  // A watch or follow gets a client of its own, destroyed when it is cancelled (see openH1Stream).
  const own = opts.longRunning ? upstream.openH1Stream(target) : undefined;
  x.cancel = own ? () => upstream.endH1Stream(own, true) : () => abortUpstream?.(new Error('client went away'));
  // undici's core handler interface (raw header buffers, no per-response header object or controller):
  // it is what undici 7 calls natively; the controller-style interface wraps it and parses every header.
  const handler: Dispatcher.DispatchHandler = {
    onConnect: (abort) => {
      abortUpstream = abort;
      if (x.settled) abort(new Error('client went away'));
    },
    onHeaders: (code, rawHeaders, resume, statusText) => {
      // 1xx informational answers (102, 103) are not the response; Node's server would not relay them as such.
      if (code < 200) return true;
      status = code;
      const head = h1RawResponseHeaders(rawHeaders);
      if (opts.requestId) head.push('X-Request-Id', opts.requestId);
      // HTTP/2 has no reason phrase (Node warns once if given one), so an h2 client gets status and headers only.
      x.relay(() => (req.httpVersionMajor >= 2 || !statusText ? res.writeHead(code, head) : res.writeHead(code, statusText, head)));
      out = new BodyWriter(res);
      onDrain = resume;
      return true;
    },
    onData: (chunk) => {
      x.bytesOut += chunk.length;
      if (out!.write(chunk)) return true;
      res.once('drain', onDrain!);
      return false;
    },
    onComplete: () => {
      abortUpstream = undefined;
      if (own) upstream.endH1Stream(own, false);
      res.end();
      x.finish(status);
    },
    onError: (err: NodeJS.ErrnoException) => {
      const connected = abortUpstream !== undefined;
      abortUpstream = undefined;
      if (own) upstream.endH1Stream(own, true);
      if (status) {
        // An upstream that dies mid-body must not look like a complete response to the client.
        res.destroy();
        x.finish(status, 'reset');
        return;
      }
      // Sent on a kept-alive socket the server had just closed: the request was not processed (a client
      // of its own always dials afresh, so its failures are never that).
      x.onFailure(target, err, connected, !own && connected && STALE_SOCKET.has(err.code ?? ''));
    },
  };
  const sendsBody = x.sendsBody();
  // Counted as undici sends it: a 'data' listener here would start the body flowing before undici reads it.
  // (undici passes the chunk itself, whatever its typings say.)
  if (sendsBody) handler.onBodySent = (chunk: unknown) => void (x.bytesIn += typeof chunk === 'number' ? chunk : Buffer.byteLength(chunk as Buffer));
  else req.resume();
  try {
    const a = x.admitted!;
    (own ?? upstream.h1For(target)).dispatch({ method: x.method, path: a.upstreamPath, headers: h1RequestHeaders(a.headers, target.host), body: sendsBody ? req : null }, handler);
  } catch (err) {
    if (own) upstream.endH1Stream(own, true);
    // Headers the HTTP/1.1 client refuses to send (malformed values): the request cannot go upstream as it is.
    x.finish(400, 'other', failures.badRequest(`the request cannot be sent upstream: ${(err as Error).message}`));
  }
}
