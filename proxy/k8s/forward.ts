import http2 from 'node:http2';
import type { Dispatcher } from 'undici';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Admitted } from './pipeline';
import type { H2Conn, H2Pool } from './h2-pool';
import { h1RawResponseHeaders, h1RequestHeaders, h1ResponseHeaders, h2RequestHeaders } from './wire-headers';
import { failures, type StatusFailure } from './status';
import { upstreamErrorReason } from '../shared/metrics';

export interface ForwardOptions {
  /** Deadline for response headers on requests that are not long-running. */
  responseTimeoutMs: number;
  longRunning: boolean;
  /** Sent to the client as `X-Request-Id` with the upstream's headers. */
  requestId?: string;
}

export interface ForwardResult {
  status: number;
  bytesIn: number;
  bytesOut: number;
  failure?: StatusFailure;
  errorReason?: string;
}

/** Methods that carry no body and may be sent again to another apiserver when one refuses to connect. */
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Failures that mean the address did not take the connection (a reset after sending is not one of them). */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Failures of a request written to a kept-alive socket that the server closed meanwhile. */
const STALE_SOCKET = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);
/** Stream failures that say the request was not processed and the session is going: safe to send again. */
const H2_SESSION_GONE = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_STREAM_CANCEL']);
const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

/**
 * Streams one admitted request to the cluster: as a stream on the address's HTTP/2 session, or over
 * the HTTP/1.1 keep-alive pool when the apiserver does not speak h2. Responses (watch and logs -f
 * included) are written through chunk by chunk as they arrive, with the upstream's status and headers
 * (hop-by-hop ones aside); a client that goes away resets the upstream stream (or aborts the request);
 * a refused connection fails over to another apiserver address. Written on node:http2 and undici
 * rather than http-proxy: every header and abort path is explicit, and it costs less CPU per request.
 * `done` is called once, when the exchange is over; a callback, not a promise: this is the hot path.
 */
export function forward(req: IncomingMessage, res: ServerResponse, admitted: Admitted, opts: ForwardOptions, done: (result: ForwardResult) => void): void {
  new Exchange(req, res, admitted, opts, done).start();
}

/**
 * One request's way through the gateway. A class rather than a nest of closures: an open watch holds
 * this one object and its few listeners, not a dozen closures it no longer needs.
 */
class Exchange {
  private readonly upstream: Admitted['cluster']['upstream'];
  private readonly clusterId: string;
  /** Needed until a response arrives (a retry sends it again); a watch then lets go of its headers. */
  private admitted: Admitted | undefined;
  private readonly method: string;
  private readonly bodiless: boolean;
  private readonly tried = new Set<string>();
  private attempts = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private settled = false;
  private timedOut = false;
  private timer: NodeJS.Timeout | undefined;
  /** Stops the upstream request in flight (client gone, deadline passed). */
  private cancel: (() => void) | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    admitted: Admitted,
    private readonly opts: ForwardOptions,
    private readonly done: (result: ForwardResult) => void,
  ) {
    this.upstream = admitted.cluster.upstream;
    this.clusterId = admitted.cluster.id;
    this.admitted = admitted;
    this.method = req.method ?? 'GET';
    this.bodiless = RETRYABLE.has(this.method);
  }

  start(): void {
    const { req, res } = this;
    // A client that left while the request waited for the store (cold cache) closed before anyone listened.
    if (req.socket.destroyed) return this.finish(499);
    // Not `res.writableFinished`: over HTTP/2 (compat API) it is true once the client has reset the stream,
    // so a cancelled watch or a closed session would keep its upstream request open until the apiserver ends it.
    res.once('close', () => {
      if (this.settled) return;
      const cancel = this.cancel;
      // Reported first, so the upstream's reaction to the abort is not counted as an upstream failure.
      this.finish(res.headersSent ? res.statusCode : 499);
      cancel?.();
    });
    if (!this.opts.longRunning) {
      // One deadline for the whole exchange up to response headers, retries and handshakes included.
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.cancel?.();
        this.failTimeout();
      }, this.opts.responseTimeoutMs);
    }
    this.attempt();
  }

  /** Reports the exchange once; the result always has the same shape (a spread of varying ones is slow). */
  private finish(status: number, errorReason?: string, failure?: StatusFailure): void {
    clearTimeout(this.timer);
    if (this.settled) return;
    this.settled = true;
    this.release();
    this.done({ status, bytesIn: this.bytesIn, bytesOut: this.bytesOut, failure, errorReason });
  }

  /**
   * Lets go of the upstream request once the exchange is over. A finished exchange that still held
   * undici's abort handle made each request's upstream objects survive young-generation collections
   * and be promoted (2 MB per scavenge under load, scavenge pauses 4-5 ms instead of about 1 ms).
   */
  private release(): void {
    this.cancel = undefined;
    this.admitted = undefined;
  }

  private failTimeout(): void {
    this.finish(504, 'timeout', failures.timeout(`Timeout: the apiserver of cluster ${this.clusterId} did not answer within ${this.opts.responseTimeoutMs / 1000}s`));
  }

  private unavailable(reason: string): void {
    this.finish(503, reason, failures.unavailable(`error trying to reach service: ${reason === 'tls' ? 'TLS verification of the cluster apiserver failed' : reason}`));
  }

  /** Writes the upstream's status and headers and relays its body; a cut body is never made to look complete. */
  private relay(writeHead: () => void, body?: NodeJS.ReadableStream): void {
    const { res } = this;
    clearTimeout(this.timer);
    this.admitted = undefined;
    writeHead();
    // A watch's headers go out before its first event, so a quiet watch is visibly open; other
    // responses leave with their first body chunk (one write instead of two).
    if (this.opts.longRunning) res.flushHeaders();
    if (!body) return;
    // By hand rather than pipe(): two listeners instead of pipe's nine closures, held by every open watch.
    body.on('data', (c: Buffer) => {
      this.bytesOut += c.length;
      if (res.write(c)) return;
      body.pause();
      res.once('drain', () => body.resume());
    });
    body.once('end', () => res.end());
  }

  /**
   * A failure before any response: fail over or retry where that is safe, otherwise answer 503.
   * `stale` means the connection had carried requests before (a keep-alive socket the server closed,
   * an h2 session going away), which says nothing about the address being down.
   */
  private onFailure(target: URL, err: NodeJS.ErrnoException, connected: boolean, stale: boolean): void {
    if (this.settled) return;
    if (this.timedOut) return this.failTimeout();
    const reason = upstreamErrorReason(err);
    if (this.res.headersSent) {
      this.res.destroy();
      this.finish(this.res.statusCode, reason);
      return;
    }
    const refused = CONNECT_FAILURES.has(err.code ?? '') && !connected;
    if (refused) this.upstream.markDown(target);
    // Every address once, plus one resend for each stale connection; a server that resets every
    // request does not keep it going round.
    if ((refused || stale) && this.bodiless && this.attempts <= this.upstream.addressCount + 1) {
      if (stale) this.tried.delete(target.href);
      this.attempt();
      return;
    }
    this.unavailable(reason);
  }

  private attempt(): void {
    this.attempts += 1;
    const target = this.upstream.pick(this.tried);
    if (!target) {
      this.finish(503, undefined, failures.unavailable(`error trying to reach cluster ${this.clusterId}: no apiserver address accepts connections`));
      return;
    }
    this.tried.add(target.href);
    const pool = this.upstream.h2For(this.opts.longRunning);
    const conn = pool?.acquire(target);
    if (conn === undefined) return this.viaHttp1(target);
    if (!(conn instanceof Promise)) return this.viaH2(target, pool!, conn);
    this.cancel = undefined;
    conn.then(
      (c) => {
        if (this.settled) {
          if (c) pool!.release(c);
        } else if (c) this.viaH2(target, pool!, c);
        else this.viaHttp1(target);
      },
      (err: NodeJS.ErrnoException) => this.onFailure(target, err, false, false),
    );
  }

  /** The request body goes up with the first attempt only; bodiless methods (the only ones retried) drain theirs. */
  private sendsBody(): boolean {
    return !this.bodiless && this.tried.size === 1;
  }

  private viaHttp1(target: URL): void {
    const { req, res, opts, upstream } = this;
    let abortUpstream: ((err: Error) => void) | undefined;
    let status = 0;
    let onDrain: (() => void) | undefined;
    // A watch or follow gets a client of its own, destroyed when it is cancelled (see openH1Stream).
    const own = opts.longRunning ? upstream.openH1Stream(target) : undefined;
    this.cancel = own ? () => upstream.endH1Stream(own, true) : () => abortUpstream?.(new Error('client went away'));
    // undici's core handler interface (raw header buffers, no per-response header object or controller):
    // it is what undici 7 calls natively; the controller-style interface wraps it and parses every header.
    const handler: Dispatcher.DispatchHandler = {
      onConnect: (abort) => {
        abortUpstream = abort;
        if (this.settled) abort(new Error('client went away'));
      },
      onHeaders: (code, rawHeaders, resume, statusText) => {
        // 1xx informational answers (102, 103) are not the response; Node's server would not relay them as such.
        if (code < 200) return true;
        status = code;
        const head = h1RawResponseHeaders(rawHeaders);
        if (opts.requestId) head.push('X-Request-Id', opts.requestId);
        // HTTP/2 has no reason phrase (Node warns once if given one), so an h2 client gets status and headers only.
        this.relay(() => (req.httpVersionMajor >= 2 || !statusText ? res.writeHead(code, head) : res.writeHead(code, statusText, head)));
        onDrain = resume;
        return true;
      },
      onData: (chunk) => {
        this.bytesOut += chunk.length;
        if (res.write(chunk)) return true;
        res.once('drain', onDrain!);
        return false;
      },
      onComplete: () => {
        abortUpstream = undefined;
        if (own) upstream.endH1Stream(own, false);
        res.end();
        this.finish(status);
      },
      onError: (err: NodeJS.ErrnoException) => {
        const connected = abortUpstream !== undefined;
        abortUpstream = undefined;
        if (own) upstream.endH1Stream(own, true);
        if (status) {
          // An upstream that dies mid-body must not look like a complete response to the client.
          res.destroy();
          this.finish(status, 'reset');
          return;
        }
        // Sent on a kept-alive socket the server had just closed: the request was not processed (a client
        // of its own always dials afresh, so its failures are never that).
        this.onFailure(target, err, connected, !own && connected && STALE_SOCKET.has(err.code ?? ''));
      },
    };
    const sendsBody = this.sendsBody();
    // Counted as undici sends it: a 'data' listener here would start the body flowing before undici reads it.
    // (undici passes the chunk itself, whatever its typings say.)
    if (sendsBody) handler.onBodySent = (chunk: unknown) => void (this.bytesIn += typeof chunk === 'number' ? chunk : Buffer.byteLength(chunk as Buffer));
    else req.resume();
    try {
      const a = this.admitted!;
      (own ?? upstream.h1For(target)).dispatch({ method: this.method, path: a.upstreamPath, headers: h1RequestHeaders(a.headers, target.host), body: sendsBody ? req : null }, handler);
    } catch (err) {
      if (own) upstream.endH1Stream(own, true);
      // Headers the HTTP/1.1 client refuses to send (malformed values): the request cannot go upstream as it is.
      this.finish(400, 'other', failures.badRequest(`the request cannot be sent upstream: ${(err as Error).message}`));
    }
  }

  private viaH2(target: URL, pool: H2Pool, conn: H2Conn): void {
    const { req, res, opts } = this;
    const stale = conn.used;
    conn.used = true;
    let stream: http2.ClientHttp2Stream;
    try {
      const a = this.admitted!;
      stream = conn.session.request(h2RequestHeaders(this.method, a.upstreamPath, target.host, a.headers), { endStream: this.bodiless });
    } catch (err) {
      // The session closed between being handed out and used (GOAWAY, peer gone).
      pool.release(conn);
      pool.forget(conn);
      this.onFailure(target, err as NodeJS.ErrnoException, true, true);
      return;
    }
    // RST_STREAM(CANCEL): the apiserver stops this watch; the session and its other streams go on.
    this.cancel = () => {
      if (!stream.closed) stream.close(NGHTTP2_CANCEL);
    };
    let status = 0;
    let ended = false;
    let failure: NodeJS.ErrnoException | undefined;
    stream.once('response', (headers) => {
      status = Number(headers[':status']) || 502;
      const head = h1ResponseHeaders(headers);
      if (opts.requestId) head['x-request-id'] = opts.requestId;
      this.relay(() => res.writeHead(status, head), stream);
    });
    stream.once('end', () => {
      ended = true;
      if (status) this.finish(status);
    });
    stream.once('error', (err: NodeJS.ErrnoException) => (failure = err));
    stream.once('close', () => {
      pool.release(conn);
      if (this.settled || ended) return;
      if (status) {
        // Reset or session lost mid-body: the client must see a broken response, not a short one.
        res.destroy();
        this.finish(status, 'reset');
        return;
      }
      const err = failure ?? Object.assign(new Error(`upstream stream closed (code ${stream.rstCode})`), { code: 'ECONNRESET' });
      // REFUSED_STREAM and a GOAWAY that came before this stream was processed: not handled, safe to resend.
      const notProcessed = stream.rstCode === NGHTTP2_REFUSED_STREAM || H2_SESSION_GONE.has(err.code ?? '');
      this.onFailure(target, err, true, stale || notProcessed);
    });
    if (this.bodiless) {
      req.resume();
      return;
    }
    if (this.sendsBody()) {
      req.on('data', (c: Buffer) => (this.bytesIn += c.length));
      req.pipe(stream);
      return;
    }
    req.resume();
    stream.end();
  }
}
