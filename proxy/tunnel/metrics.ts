import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Tunnel figures kept as plain numbers on the hot path (one Data frame is one increment) and handed to
 * prom-client when /metrics is read, as ProxyMetrics does for requests.
 */
export class TunnelMetrics {
  sessions = 0;
  conns = 0;
  bytesIn = 0;
  bytesOut = 0;
  private connects = 0;
  private refusals = new Map<string, number>();
  private stalls = 0;

  constructor(registry: Registry) {
    const registers = [registry];
    const m = this;
    new Gauge({ name: 'bcs_api_tunnel_sessions', help: 'Agent and driver tunnels connected to this process', registers, collect() { this.set(m.sessions); } });
    new Gauge({ name: 'bcs_api_tunnel_connections', help: 'Virtual connections open through agent tunnels', registers, collect() { this.set(m.conns); } });
    new Counter({
      name: 'bcs_api_tunnel_bytes_total',
      help: 'Bytes carried through agent tunnels (Data payloads), by direction: in = from the agent',
      labelNames: ['direction'],
      registers,
      collect() {
        if (m.bytesIn) this.inc({ direction: 'in' }, m.bytesIn);
        if (m.bytesOut) this.inc({ direction: 'out' }, m.bytesOut);
        m.bytesIn = 0;
        m.bytesOut = 0;
      },
    });
    new Counter({
      name: 'bcs_api_tunnel_connects_total',
      help: 'Agent tunnel handshakes accepted (first connects and reconnects)',
      registers,
      collect() {
        if (m.connects) this.inc(m.connects);
        m.connects = 0;
      },
    });
    new Counter({
      name: 'bcs_api_tunnel_refused_total',
      help: 'Agent tunnel handshakes refused, by HTTP status',
      labelNames: ['status'],
      registers,
      collect() {
        for (const [status, n] of m.refusals) this.inc({ status }, n);
        m.refusals.clear();
      },
    });
    new Counter({
      name: 'bcs_api_tunnel_stalled_connections_total',
      help: 'Virtual connections closed because their reader stopped reading while the tunnel waited for it',
      registers,
      collect() {
        if (m.stalls) this.inc(m.stalls);
        m.stalls = 0;
      },
    });
  }

  connected(): void {
    this.connects += 1;
  }

  refused(status: number): void {
    this.refusals.set(String(status), (this.refusals.get(String(status)) ?? 0) + 1);
  }

  stalled(): void {
    this.stalls += 1;
  }
}
