import https from 'node:https';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Admitted } from './pipeline';
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

function responseHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (!HOP_BY_HOP_RESPONSE.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

/**
 * Streams one admitted request to the cluster over the cluster's keep-alive pool. Responses (watch and
 * logs -f included) are written through chunk by chunk as they arrive, with the upstream's status and
 * headers (hop-by-hop ones aside); a client that goes away aborts the upstream request; a refused
 * connection fails over to another apiserver address. Written on node:https rather than http-proxy:
 * it costs about a third less CPU per request, which is what lets the gateway keep up with
 * `kubectl proxy` (see `npm run bench:proxy`), and every header and abort path is explicit.
 */
export function forward(req: IncomingMessage, res: ServerResponse, admitted: Admitted, opts: ForwardOptions): Promise<ForwardResult> {
  const upstream = admitted.cluster.upstream;
  const tried = new Set<string>();
  let bytesIn = 0;
  let bytesOut = 0;

  return new Promise<ForwardResult>((resolve) => {
    let settled = false;
    let current: ClientRequest | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: Omit<ForwardResult, 'bytesIn' | 'bytesOut'>): void => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve({ ...r, bytesIn, bytesOut });
    };
    res.once('close', () => {
      if (res.writableFinished) return;
      current?.destroy();
      finish({ status: res.headersSent ? res.statusCode : 499 });
    });

    const attempt = (): void => {
      const target = upstream.pick(tried);
      if (!target) {
        finish({ status: 503, failure: failures.unavailable(`error trying to reach cluster ${admitted.cluster.id}: no apiserver address accepts connections`) });
        return;
      }
      tried.add(target.href);
      let timedOut = false;
      const proxyReq = https.request({
        host: target.hostname,
        port: target.port || 443,
        method: req.method,
        path: admitted.upstreamPath,
        headers: { ...admitted.headers, host: target.host },
        agent: upstream.agent,
      });
      current = proxyReq;
      if (!opts.longRunning) {
        timer = setTimeout(() => {
          timedOut = true;
          proxyReq.destroy(Object.assign(new Error('upstream response timeout'), { code: 'ETIMEDOUT' }));
        }, opts.responseTimeoutMs);
      }

      proxyReq.once('response', (proxyRes) => {
        clearTimeout(timer);
        res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, responseHeaders(proxyRes.rawHeaders));
        // A watch's headers go out before its first event, so a quiet watch is visibly open; other
        // responses leave with their first body chunk (one write instead of two).
        if (opts.longRunning) res.flushHeaders();
        proxyRes.on('data', (c: Buffer) => (bytesOut += c.length));
        proxyRes.pipe(res);
        proxyRes.once('end', () => finish({ status: proxyRes.statusCode ?? 0 }));
        // An upstream that dies mid-body must not look like a complete response to the client.
        const cut = (): void => {
          res.destroy();
          finish({ status: proxyRes.statusCode ?? 0, errorReason: 'reset' });
        };
        proxyRes.once('aborted', cut);
        proxyRes.once('error', cut);
      });

      proxyReq.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (settled) return;
        if (timedOut) {
          finish({ status: 504, failure: failures.timeout(`Timeout: the apiserver of cluster ${admitted.cluster.id} did not answer within ${opts.responseTimeoutMs / 1000}s`), errorReason: 'timeout' });
          return;
        }
        const reason = upstreamErrorReason(err);
        if (res.headersSent) {
          res.destroy();
          finish({ status: res.statusCode, errorReason: reason });
          return;
        }
        // A reused keep-alive socket that the server had closed is not a sign the address is down.
        const refused = CONNECT_FAILURES.has(err.code ?? '') && !proxyReq.reusedSocket;
        if (refused) upstream.markDown(target);
        if ((refused || proxyReq.reusedSocket) && RETRYABLE.has(req.method ?? '') && tried.size < upstream.addressCount + 1) {
          if (proxyReq.reusedSocket) tried.delete(target.href);
          attempt();
          return;
        }
        finish({ status: 503, failure: failures.unavailable(`error trying to reach service: ${reason === 'tls' ? 'TLS verification of the cluster apiserver failed' : reason}`), errorReason: reason });
      });

      if (tried.size === 1 && !RETRYABLE.has(req.method ?? '')) {
        req.on('data', (c: Buffer) => (bytesIn += c.length));
        req.pipe(proxyReq);
      } else {
        // Bodiless methods: the body stream is empty (and, on a retry, already consumed).
        req.resume();
        proxyReq.end();
      }
    };
    attempt();
  });
}
