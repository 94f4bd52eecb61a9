import { Counter, type Registry } from 'prom-client';

/** Relays through peers, on both ends: asked of a peer (`dialled`) and served for one (`served`). */
export class PeerMetrics {
  private readonly servedTotal: Counter<'status'>;
  private readonly dialledTotal: Counter<'result'>;

  constructor(registry: Registry) {
    this.servedTotal = new Counter({ name: 'bcs_api_peer_relays_served_total', help: 'Relay requests from other replicas, by the status answered (101 = relayed)', labelNames: ['status'], registers: [registry] });
    this.dialledTotal = new Counter({ name: 'bcs_api_peer_relays_dialled_total', help: 'Connections this replica opened through a peer holding the tunnel, by result', labelNames: ['result'], registers: [registry] });
  }

  served(status: string): void {
    this.servedTotal.inc({ status });
  }

  dialled(result: 'ok' | 'refused' | 'failed'): void {
    this.dialledTotal.inc({ result });
  }
}
