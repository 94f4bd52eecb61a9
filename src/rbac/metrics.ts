import { Counter, Histogram, type Registry } from 'prom-client';
import type { RbacSyncResult } from '../store/entities';

/** RBAC sync as Prometheus sees it: attempts by result, their duration, and objects changed. */
export class RbacMetrics {
  private readonly syncs: Counter<'result'>;
  private readonly duration: Histogram<'result'>;
  private readonly changes: Counter<'action'>;

  constructor(registry: Registry) {
    this.syncs = new Counter({ name: 'bcs_api_rbac_syncs_total', help: 'RBAC sync attempts per cluster, by result (ok, partial, failed, skipped).', labelNames: ['result'], registers: [registry] });
    this.duration = new Histogram({ name: 'bcs_api_rbac_sync_duration_seconds', help: 'Time to sync one cluster, list to last write.', labelNames: ['result'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry] });
    this.changes = new Counter({ name: 'bcs_api_rbac_objects_changed_total', help: 'RBAC objects written to clusters, by action.', labelNames: ['action'], registers: [registry] });
  }

  observe(result: RbacSyncResult, seconds: number, changed?: { created: number; updated: number; removed: number }): void {
    this.syncs.inc({ result });
    this.duration.observe({ result }, seconds);
    if (!changed) return;
    if (changed.created) this.changes.inc({ action: 'created' }, changed.created);
    if (changed.updated) this.changes.inc({ action: 'updated' }, changed.updated);
    if (changed.removed) this.changes.inc({ action: 'removed' }, changed.removed);
  }
}
