import { Counter, Gauge, type Registry } from 'prom-client';
import { BucketHistogram, type HistogramSeries } from './bucket-histogram';

/** What one (type, method) pair has counted since the registry last read it, and its latency series. */
interface Series {
  labels: { type: string; method: string };
  requests: number;
  errors: number;
  latency: HistogramSeries;
  errorLatency: HistogramSeries;
}

/**
 * The original's metric names (`bcs_api_request_*{type,method}`, type `k8s_native` for the tunnel,
 * method `websocket` for upgrades) plus what operators of a streaming proxy need: long-running
 * requests in flight and upstream failures by reason.
 *
 * Counted per request in plain numbers and handed to prom-client when /metrics is read (its `collect`
 * hook): prom-client hashes the label object on every increment, label-bound children included, and
 * a proxied request makes four such calls (count, latency, in-flight up and down).
 */
export class ProxyMetrics {
  readonly requests: Counter<'type' | 'method'>;
  readonly errors: Counter<'type' | 'method'>;
  readonly latency: BucketHistogram;
  readonly errorLatency: BucketHistogram;
  readonly inflight: Gauge<'kind'>;
  readonly upstreamErrors: Counter<'reason'>;
  private readonly series = new Map<string, Series>();
  private readonly inflightCounts = new Map<string, number>();

  constructor(registry: Registry) {
    const registers = [registry];
    const buckets = Array.from({ length: 16 }, (_, n) => 0.00025 * 2 ** n);
    const metrics = this;
    // Hands what was counted since the last read to prom-client, which keeps the running total.
    const perRequest = (name: string, help: string, field: 'requests' | 'errors'): Counter<'type' | 'method'> =>
      new Counter({
        name,
        help,
        labelNames: ['type', 'method'],
        registers,
        collect() {
          for (const s of metrics.series.values()) {
            if (s[field]) this.inc(s.labels, s[field]);
            s[field] = 0;
          }
        },
      });
    this.requests = perRequest('bcs_api_request_count_total', 'Requests handled, by surface type and method', 'requests');
    this.errors = perRequest('bcs_api_request_err_count_total', 'Requests that failed (status >= 400 or transport error)', 'errors');
    this.latency = new BucketHistogram('bcs_api_request_latency_seconds', 'Time to response headers (long-running requests excluded)', buckets, registry);
    this.errorLatency = new BucketHistogram('bcs_api_request_error_latency_seconds', 'Latency of failed requests', buckets, registry);
    this.inflight = new Gauge({
      name: 'bcs_api_proxy_inflight_requests',
      help: 'Proxied requests in flight: normal, watch (watch and follow) and upgrade',
      labelNames: ['kind'],
      registers,
      collect() {
        for (const [kind, n] of metrics.inflightCounts) this.set({ kind }, n);
      },
    });
    this.upstreamErrors = new Counter({ name: 'bcs_api_proxy_upstream_errors_total', help: 'Failures reaching cluster apiservers, by reason', labelNames: ['reason'], registers });
  }

  observe(type: string, method: string, status: number, seconds: number, longRunning: boolean): void {
    const key = `${type} ${method}`;
    let s = this.series.get(key);
    if (!s) {
      const labels = { type, method };
      s = { labels, requests: 0, errors: 0, latency: this.latency.seriesFor(labels), errorLatency: this.errorLatency.seriesFor(labels) };
      this.series.set(key, s);
    }
    s.requests += 1;
    if (status >= 400 || status === 0) {
      s.errors += 1;
      s.errorLatency.observe(seconds);
    } else if (!longRunning) s.latency.observe(seconds);
  }

  /** One more request of this kind (normal, watch, upgrade) in flight. */
  enter(kind: string): void {
    this.inflightCounts.set(kind, (this.inflightCounts.get(kind) ?? 0) + 1);
  }

  leave(kind: string): void {
    this.inflightCounts.set(kind, (this.inflightCounts.get(kind) ?? 0) - 1);
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
