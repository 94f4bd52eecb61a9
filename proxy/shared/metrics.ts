import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The original's metric names (`bcs_api_request_*{type,method}`, type `k8s_native` for the tunnel,
 * method `websocket` for upgrades) plus what operators of a streaming proxy need: long-running
 * requests in flight and upstream failures by reason.
 */
export class ProxyMetrics {
  readonly requests: Counter<'type' | 'method'>;
  readonly errors: Counter<'type' | 'method'>;
  readonly latency: Histogram<'type' | 'method'>;
  readonly errorLatency: Histogram<'type' | 'method'>;
  readonly inflight: Gauge<'kind'>;
  readonly upstreamErrors: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const buckets = Array.from({ length: 16 }, (_, n) => 0.00025 * 2 ** n);
    this.requests = new Counter({ name: 'bcs_api_request_count_total', help: 'Requests handled, by surface type and method', labelNames: ['type', 'method'], registers });
    this.errors = new Counter({ name: 'bcs_api_request_err_count_total', help: 'Requests that failed (status >= 400 or transport error)', labelNames: ['type', 'method'], registers });
    this.latency = new Histogram({ name: 'bcs_api_request_latency_seconds', help: 'Time to response headers (long-running requests excluded)', labelNames: ['type', 'method'], buckets, registers });
    this.errorLatency = new Histogram({ name: 'bcs_api_request_error_latency_seconds', help: 'Latency of failed requests', labelNames: ['type', 'method'], buckets, registers });
    this.inflight = new Gauge({ name: 'bcs_api_proxy_inflight_requests', help: 'Proxied requests in flight: normal, watch (watch and follow) and upgrade', labelNames: ['kind'], registers });
    this.upstreamErrors = new Counter({ name: 'bcs_api_proxy_upstream_errors_total', help: 'Failures reaching cluster apiservers, by reason', labelNames: ['reason'], registers });
  }

  /** Label children are looked up once per (type, method): prom-client hashes label objects on every call otherwise. */
  private readonly children = new Map<string, { requests: Counter.Internal; errors: Counter.Internal; latency: Histogram.Internal<'type' | 'method'>; errorLatency: Histogram.Internal<'type' | 'method'> }>();
  private readonly inflightChildren = new Map<string, Gauge.Internal<'kind'>>();

  observe(type: string, method: string, status: number, seconds: number, longRunning: boolean): void {
    const key = `${type} ${method}`;
    let c = this.children.get(key);
    if (!c) {
      const labels = { type, method };
      c = { requests: this.requests.labels(labels), errors: this.errors.labels(labels), latency: this.latency.labels(labels), errorLatency: this.errorLatency.labels(labels) };
      this.children.set(key, c);
    }
    c.requests.inc();
    if (status >= 400 || status === 0) {
      c.errors.inc();
      c.errorLatency.observe(seconds);
    } else if (!longRunning) c.latency.observe(seconds);
  }

  inflightBy(kind: string): Gauge.Internal<'kind'> {
    let g = this.inflightChildren.get(kind);
    if (!g) {
      g = this.inflight.labels({ kind });
      this.inflightChildren.set(kind, g);
    }
    return g;
  }
}

/** Coarse, bounded reasons for upstream failures (labels must not carry addresses or messages). */
export function upstreamErrorReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return 'reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    default:
      return /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|ERR_TLS/i.test(err.code ?? err.message) ? 'tls' : 'other';
  }
}
