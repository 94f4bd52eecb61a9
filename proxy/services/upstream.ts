import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent, type Dispatcher } from 'undici';
import type { UpstreamTls } from '../shared/upstream-tls';
import { clientResponseHeaders } from './headers';

export interface ModuleUpstreamOptions {
  connectTimeoutMs: number;
  /** Deadline for the response headers of requests that are not watches. */
  responseTimeoutMs: number;
  tls: UpstreamTls;
}

export interface ForwardRequest {
  /** `scheme://host:port` of the chosen server. */
  origin: string;
  /** Upstream path with the query. */
  path: string;
  headers: Record<string, string | string[]>;
  /** Long-lived: no response-header deadline. */
  watch: boolean;
}

/** How a forward ended: `failed` is set when no response head reached the client (the caller answers). */
export interface ForwardOutcome {
  failed?: { timeout: boolean; error: NodeJS.ErrnoException };
  /** The response was cut after its head (upstream reset, or the client left). */
  cut?: boolean;
}

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT']);

/**
 * HTTP to module servers (storage, metric, netservice, clusterkeeper, detection) over one undici agent:
 * keep-alive per origin, TLS verified with the configured CA and our client certificate offered. Bodies
 * stream both ways and response chunks are written as they arrive (storage's watches answer event by
 * event), so memory stays bounded whatever the size.
 */
export class ModuleUpstream {
  private readonly agent: Agent;

  constructor(private readonly opts: ModuleUpstreamOptions) {
    this.agent = new Agent({
      connect: { timeout: opts.connectTimeoutMs, ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key },
      headersTimeout: opts.responseTimeoutMs,
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
    });
  }

  async forward(req: IncomingMessage, res: ServerResponse, f: ForwardRequest): Promise<ForwardOutcome> {
    const abort = new AbortController();
    const clientGone = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', clientGone);
    // Without a length or chunked framing the request has no body (RFC 9112 §6.3); undici would send an empty chunked one.
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await this.agent.request({
        origin: f.origin,
        path: f.path,
        method: req.method as Dispatcher.HttpMethod,
        headers: f.headers,
        body: hasBody ? req : undefined,
        signal: abort.signal,
        headersTimeout: f.watch ? 0 : this.opts.responseTimeoutMs,
        bodyTimeout: 0,
      });
    } catch (err) {
      res.off('close', clientGone);
      const e = err as NodeJS.ErrnoException;
      return { failed: { timeout: TIMEOUTS.has(e.code ?? ''), error: e } };
    }
    res.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers));
    // The head goes out now: a watch may send its first event much later.
    res.flushHeaders();
    try {
      await pipeline(upstream.body, res);
      return {};
    } catch {
      // Headers are out: the only honest signal left is to cut the client's response too.
      res.destroy();
      upstream.body.destroy();
      return { cut: true };
    } finally {
      res.off('close', clientGone);
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
