import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Admitted } from './pipeline';
import type { ForwardOptions, ForwardResult } from './forward';
import { failures, type StatusFailure } from './status';
import { upstreamErrorReason } from '../shared/metrics';
import { BodyWriter } from './body-writer';
import { viaHttp1 } from './exchange-h1';
import { viaH2 } from './exchange-h2';

/** Methods that carry no body and may be sent again to another apiserver when one refuses to connect. */
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Failures that mean the address did not take the connection (a reset after sending is not one of them). */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * One request's way through the gateway. A class rather than a nest of closures: an open watch holds
 * this one object and its few listeners, not a dozen closures it no longer needs. The two transports
 * (exchange-h1.ts, exchange-h2.ts) work on its open members; everything else stays private.
 */
export class Exchange {
  readonly upstream: Admitted['cluster']['upstream'];
  private readonly clusterId: string;
  /** Needed until a response arrives (a retry sends it again); a watch then lets go of its headers. */
  admitted: Admitted | undefined;
  readonly method: string;
  readonly bodiless: boolean;
  readonly tried = new Set<string>();
  private attempts = 0;
  bytesIn = 0;
  bytesOut = 0;
  settled = false;
  private timedOut = false;
  private timer: NodeJS.Timeout | undefined;
  /** Stops the upstream request in flight (client gone, deadline passed). */
  cancel: (() => void) | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    admitted: Admitted,
    readonly opts: ForwardOptions,
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
  finish(status: number, errorReason?: string, failure?: StatusFailure): void {
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
  relay(writeHead: () => void, body?: NodeJS.ReadableStream): void {
    const { res } = this;
    clearTimeout(this.timer);
    this.admitted = undefined;
    writeHead();
    // A watch's headers go out before its first event, so a quiet watch is visibly open; other
    // responses leave with their first body chunk (one write instead of two).
    if (this.opts.longRunning) res.flushHeaders();
    if (!body) return;
    // By hand rather than pipe(): two listeners instead of pipe's nine closures, held by every open watch.
    const out = new BodyWriter(res);
    body.on('data', (c: Buffer) => {
      this.bytesOut += c.length;
      if (out.write(c)) return;
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
  onFailure(target: URL, err: NodeJS.ErrnoException, connected: boolean, stale: boolean): void {
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
    if (conn === undefined) return viaHttp1(this, target);
    if (!(conn instanceof Promise)) return viaH2(this, target, pool!, conn);
    this.cancel = undefined;
    conn.then(
      (c) => {
        if (this.settled) {
          if (c) pool!.release(c);
        } else if (c) viaH2(this, target, pool!, c);
        else viaHttp1(this, target);
      },
      (err: NodeJS.ErrnoException) => this.onFailure(target, err, false, false),
    );
  }

  /** The request body goes up with the first attempt only; bodiless methods (the only ones retried) drain theirs. */
  sendsBody(): boolean {
    return !this.bodiless && this.tried.size === 1;
  }
}
