import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Admitted } from './pipeline';
import { failures, type StatusFailure } from './status';
import { upstreamErrorReason } from './metrics';

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
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

/**
 * Streams one admitted request to the cluster through http-proxy and the cluster's keep-alive pool.
 * Responses (watch and logs -f included) are piped chunk by chunk as they arrive; a client that goes
 * away aborts the upstream request; a refused connection fails over to another apiserver address.
 */
export class Forwarder {
  private readonly proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: true, secure: true, ws: false });

  forward(req: IncomingMessage, res: ServerResponse, admitted: Admitted, opts: ForwardOptions): Promise<ForwardResult> {
    const upstream = admitted.cluster.upstream;
    const tried = new Set<string>();
    let bytesIn = 0;
    let bytesOut = 0;
    req.on('data', (c: Buffer) => (bytesIn += c.length));

    return new Promise<ForwardResult>((resolve) => {
      let settled = false;
      const finish = (r: Omit<ForwardResult, 'bytesIn' | 'bytesOut'>): void => {
        if (settled) return;
        settled = true;
        resolve({ ...r, bytesIn, bytesOut });
      };

      const attempt = (): void => {
        const target = upstream.pick(tried);
        if (!target) {
          finish({ status: 503, failure: failures.unavailable(`error trying to reach cluster ${admitted.cluster.id}: no apiserver address accepts connections`) });
          return;
        }
        tried.add(target.href);
        let proxyReq: ClientRequest | undefined;
        let timedOut = false;
        let timer: NodeJS.Timeout | undefined;

        const onProxyReq = (p: ClientRequest, r: IncomingMessage): void => {
          if (r !== req) return;
          proxyReq = p;
          if (!opts.longRunning) {
            timer = setTimeout(() => {
              timedOut = true;
              p.destroy(Object.assign(new Error('upstream response timeout'), { code: 'ETIMEDOUT' }));
            }, opts.responseTimeoutMs);
          }
        };
        const onProxyRes = (proxyRes: IncomingMessage, r: IncomingMessage): void => {
          if (r !== req) return;
          clearTimeout(timer);
          proxyRes.on('data', (c: Buffer) => (bytesOut += c.length));
          proxyRes.once('end', () => finish({ status: proxyRes.statusCode ?? 0 }));
          proxyRes.once('error', () => finish({ status: proxyRes.statusCode ?? 0, errorReason: 'reset' }));
          // An upstream that dies mid-body must not look like a complete response to the client.
          proxyRes.once('aborted', () => res.destroy());
        };
        this.proxy.on('proxyReq', onProxyReq);
        this.proxy.on('proxyRes', onProxyRes);
        const cleanup = (): void => {
          this.proxy.off('proxyReq', onProxyReq);
          this.proxy.off('proxyRes', onProxyRes);
        };
        res.once('close', () => {
          cleanup();
          clearTimeout(timer);
          if (!res.writableFinished) {
            proxyReq?.destroy();
            finish({ status: res.headersSent ? res.statusCode : 499 });
          }
        });

        this.proxy.web(
          req,
          res,
          {
            // The Kubernetes path replaces the tunnel path entirely (never joined onto it).
            target: `${target.origin}${admitted.upstreamPath}`,
            ignorePath: true,
            agent: upstream.agent,
            headers: admitted.headers as Record<string, string>,
            // A retry cannot re-read the client's (already consumed, empty) body stream.
            buffer: tried.size > 1 ? Readable.from([]) : undefined,
          } as httpProxy.ServerOptions,
          (err: NodeJS.ErrnoException) => {
            cleanup();
            clearTimeout(timer);
            if (timedOut) {
              finish({ status: 504, failure: failures.timeout(`Timeout: the apiserver of cluster ${admitted.cluster.id} did not answer within ${opts.responseTimeoutMs / 1000}s`), errorReason: 'timeout' });
              return;
            }
            const reason = upstreamErrorReason(err);
            if (res.headersSent || res.destroyed) {
              res.destroy();
              finish({ status: res.statusCode, errorReason: reason });
              return;
            }
            if (CONNECT_FAILURES.has(err.code ?? '') && !proxyReq?.reusedSocket) upstream.markDown(target);
            if (CONNECT_FAILURES.has(err.code ?? '') && RETRYABLE.has(req.method ?? '') && tried.size < upstream.addressCount) {
              attempt();
              return;
            }
            finish({ status: 503, failure: failures.unavailable(`error trying to reach service: ${reason === 'tls' ? 'TLS verification of the cluster apiserver failed' : reason}`), errorReason: reason });
          },
        );
      };
      attempt();
    });
  }

  close(): void {
    this.proxy.close();
  }
}
