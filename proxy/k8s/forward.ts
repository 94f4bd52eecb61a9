import http2 from 'node:http2';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Admitted } from './pipeline';
import type { H2Conn, H2Pool } from './h2-pool';
import { h1ResponseHeaders, h2RequestHeaders } from './h2-headers';
import { failures, type StatusFailure } from './status';
import { upstreamErrorReason } from '../shared/metrics';

export interface ForwardOptions {
  /** Deadline for response headers on requests that are not long-running. */
  responseTimeoutMs: number;
  longRunning: boolean;
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
/** Response headers that describe the upstream connection, not the response; Node sets its own. */
const HOP_BY_HOP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer', 'te']);
/** Stream failures that say the request was not processed and the session is going: safe to send again. */
const H2_SESSION_GONE = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_STREAM_CANCEL']);
const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

function responseHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (!HOP_BY_HOP_RESPONSE.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

/**
 * Streams one admitted request to the cluster: as a stream on the address's HTTP/2 session, or over
 * the HTTP/1.1 keep-alive pool when the apiserver does not speak h2. Responses (watch and logs -f
 * included) are written through chunk by chunk as they arrive, with the upstream's status and headers
 * (hop-by-hop ones aside); a client that goes away resets the upstream stream (or aborts the request);
 * a refused connection fails over to another apiserver address. Written on node:http2/https rather
 * than http-proxy: every header and abort path is explicit, and it costs less CPU per request.
 */
export function forward(req: IncomingMessage, res: ServerResponse, admitted: Admitted, opts: ForwardOptions): Promise<ForwardResult> {
  const upstream = admitted.cluster.upstream;
  const method = req.method ?? 'GET';
  const bodiless = RETRYABLE.has(method);
  const tried = new Set<string>();
  let bytesIn = 0;
  let bytesOut = 0;

  return new Promise<ForwardResult>((resolve) => {
    let settled = false;
    let cancel: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const finish = (r: Omit<ForwardResult, 'bytesIn' | 'bytesOut'>): void => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve({ ...r, bytesIn, bytesOut });
    };
    res.once('close', () => {
      if (res.writableFinished) return;
      cancel?.();
      finish({ status: res.headersSent ? res.statusCode : 499 });
    });
    if (!opts.longRunning) {
      // One deadline for the whole exchange up to response headers, retries and handshakes included.
      timer = setTimeout(() => {
        timedOut = true;
        cancel?.();
        failTimeout();
      }, opts.responseTimeoutMs);
    }
    const failTimeout = (): void =>
      finish({ status: 504, failure: failures.timeout(`Timeout: the apiserver of cluster ${admitted.cluster.id} did not answer within ${opts.responseTimeoutMs / 1000}s`), errorReason: 'timeout' });

    /** Writes the upstream's status and headers and pipes its body; a cut body is never made to look complete. */
    const relay = (writeHead: () => void, body: NodeJS.ReadableStream & { on(e: 'data', f: (c: Buffer) => void): unknown }): void => {
      clearTimeout(timer);
      writeHead();
      // A watch's headers go out before its first event, so a quiet watch is visibly open; other
      // responses leave with their first body chunk (one write instead of two).
      if (opts.longRunning) res.flushHeaders();
      body.on('data', (c: Buffer) => (bytesOut += c.length));
      body.pipe(res);
    };

    const unavailable = (reason: string): void =>
      finish({ status: 503, failure: failures.unavailable(`error trying to reach service: ${reason === 'tls' ? 'TLS verification of the cluster apiserver failed' : reason}`), errorReason: reason });

    /**
     * A failure before any response: fail over or retry where that is safe, otherwise answer 503.
     * `stale` means the connection had carried requests before (a keep-alive socket the server closed,
     * an h2 session going away), which says nothing about the address being down.
     */
    const onFailure = (target: URL, err: NodeJS.ErrnoException, connected: boolean, stale: boolean): void => {
      if (settled) return;
      if (timedOut) return failTimeout();
      const reason = upstreamErrorReason(err);
      if (res.headersSent) {
        res.destroy();
        finish({ status: res.statusCode, errorReason: reason });
        return;
      }
      const refused = CONNECT_FAILURES.has(err.code ?? '') && !connected;
      if (refused) upstream.markDown(target);
      if ((refused || stale) && bodiless && tried.size < upstream.addressCount + 1) {
        if (stale) tried.delete(target.href);
        attempt();
        return;
      }
      unavailable(reason);
    };

    const viaHttp1 = (target: URL): void => {
      const proxyReq = https.request({
        host: target.hostname,
        port: target.port || 443,
        method,
        path: admitted.upstreamPath,
        headers: { ...admitted.headers, host: target.host },
        agent: upstream.agent,
      });
      cancel = () => proxyReq.destroy();
      proxyReq.once('response', (proxyRes) => {
        // HTTP/2 has no reason phrase (Node warns once if given one), so an h2 client gets status and headers only.
        const code = proxyRes.statusCode ?? 502;
        relay(() => (req.httpVersionMajor >= 2 ? res.writeHead(code, responseHeaders(proxyRes.rawHeaders)) : res.writeHead(code, proxyRes.statusMessage, responseHeaders(proxyRes.rawHeaders))), proxyRes);
        proxyRes.once('end', () => finish({ status: proxyRes.statusCode ?? 0 }));
        // An upstream that dies mid-body must not look like a complete response to the client.
        const cut = (): void => {
          res.destroy();
          finish({ status: proxyRes.statusCode ?? 0, errorReason: 'reset' });
        };
        proxyRes.once('aborted', cut);
        proxyRes.once('error', cut);
      });
      proxyReq.once('error', (err: NodeJS.ErrnoException) => onFailure(target, err, Boolean(proxyReq.reusedSocket), Boolean(proxyReq.reusedSocket)));
      send(proxyReq);
    };

    const viaH2 = (target: URL, pool: H2Pool, conn: H2Conn): void => {
      const stale = conn.used;
      conn.used = true;
      let stream: http2.ClientHttp2Stream;
      try {
        stream = conn.session.request(h2RequestHeaders(method, admitted.upstreamPath, target.host, admitted.headers), { endStream: bodiless });
      } catch (err) {
        // The session closed between being handed out and used (GOAWAY, peer gone).
        pool.release(conn);
        pool.forget(conn);
        onFailure(target, err as NodeJS.ErrnoException, true, true);
        return;
      }
      stream.once('close', () => pool.release(conn));
      // RST_STREAM(CANCEL): the apiserver stops this watch; the session and its other streams go on.
      cancel = () => {
        if (!stream.closed) stream.close(NGHTTP2_CANCEL);
      };
      let status = 0;
      let ended = false;
      let failure: NodeJS.ErrnoException | undefined;
      stream.once('response', (headers) => {
        status = Number(headers[':status']) || 502;
        relay(() => res.writeHead(status, h1ResponseHeaders(headers)), stream);
      });
      stream.once('end', () => {
        ended = true;
        if (status) finish({ status });
      });
      stream.once('error', (err: NodeJS.ErrnoException) => (failure = err));
      stream.once('close', () => {
        if (settled || ended) return;
        if (status) {
          // Reset or session lost mid-body: the client must see a broken response, not a short one.
          res.destroy();
          finish({ status, errorReason: 'reset' });
          return;
        }
        const err = failure ?? Object.assign(new Error(`upstream stream closed (code ${stream.rstCode})`), { code: 'ECONNRESET' });
        // REFUSED_STREAM and a GOAWAY that came before this stream was processed: not handled, safe to resend.
        const notProcessed = stream.rstCode === NGHTTP2_REFUSED_STREAM || H2_SESSION_GONE.has(err.code ?? '');
        onFailure(target, err, true, stale || notProcessed);
      });
      if (bodiless) req.resume();
      else send(stream);
    };

    /** The request body goes up once; bodiless methods (the only ones retried) just drain theirs. */
    const send = (out: NodeJS.WritableStream): void => {
      if (!bodiless && tried.size === 1) {
        req.on('data', (c: Buffer) => (bytesIn += c.length));
        req.pipe(out);
        return;
      }
      req.resume();
      out.end();
    };

    const attempt = (): void => {
      const target = upstream.pick(tried);
      if (!target) {
        finish({ status: 503, failure: failures.unavailable(`error trying to reach cluster ${admitted.cluster.id}: no apiserver address accepts connections`) });
        return;
      }
      tried.add(target.href);
      const pool = upstream.h2For(opts.longRunning);
      const conn = pool?.acquire(target);
      if (conn === undefined) return viaHttp1(target);
      if (!(conn instanceof Promise)) return viaH2(target, pool!, conn);
      cancel = undefined;
      conn.then(
        (c) => {
          if (settled) {
            if (c) pool!.release(c);
          } else if (c) viaH2(target, pool!, c);
          else viaHttp1(target);
        },
        (err: NodeJS.ErrnoException) => onFailure(target, err, false, false),
      );
    };
    attempt();
  });
}
