import { Counter, type Registry } from 'prom-client';

/** Relays through peers (`peer`) or other workers (`worker`), on both ends: asked of one (`dialled`) and served for one (`served`). */
export class PeerMetrics {
  private readonly servedTotal: Counter<'status'>;
  private readonly dialledTotal: Counter<'result'>;

  constructor(registry: Registry, kind: 'peer' | 'worker' = 'peer') {
    this.servedTotal = new Counter({ name: `bcs_api_${kind}_relays_served_total`, help: `Relay requests from other ${kind === 'peer' ? 'replicas' : 'workers'}, by the status answered (101 = relayed)`, labelNames: ['status'], registers: [registry] });
    this.dialledTotal = new Counter({ name: `bcs_api_${kind}_relays_dialled_total`, help: `Connections this process opened through ${kind === 'peer' ? 'a peer replica' : 'another worker'} holding the tunnel, by result`, labelNames: ['result'], registers: [registry] });
  }

  served(status: string): void {
    this.servedTotal.inc({ status });
  }

  dialled(result: 'ok' | 'refused' | 'failed'): void {
    this.dialledTotal.inc({ result });
  }
}
