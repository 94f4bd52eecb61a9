import type { WorkerRelaySide } from '../../src/workers/holder-feed';
import type { WorkerHolding } from '../../src/workers/messages';
import type { DriverTunnels } from '../tunnel/driver-tunnels';
import type { DriverModuleName } from '../tunnel/handshake';
import type { TunnelRegistry } from '../tunnel/registry';

/**
 * Tells the primary every tunnel this worker holds, each time one connects or goes (the whole list: it
 * is small, and a lost or reordered message cannot leave a stale entry behind the next one).
 */
export function publishToWorkers(side: WorkerRelaySide, owner: string, registry: TunnelRegistry, drivers: DriverTunnels): void {
  let queued = false;
  // Driver clusters ever announced here (the registry of drivers lists sessions, not their module).
  const driverClusters = new Map<string, { module: DriverModuleName; clusterId: string }>();
  const send = (): void => {
    queued = false;
    const holdings: WorkerHolding[] = [];
    for (const s of registry.all()) {
      if (s.isOpen) holdings.push({ owner, module: 'kube-agent', clusterId: s.clusterId, target: s.params.hostPort, address: s.params.address });
    }
    for (const [key, { module, clusterId }] of driverClusters) {
      const live = drivers.live(module, clusterId);
      if (!live.length) driverClusters.delete(key);
      for (const t of live) holdings.push({ owner, module, clusterId, target: t.session.params.hostPort, address: t.session.params.address });
    }
    side.publish(holdings);
  };
  // Several changes in one turn (an agent replacing its tunnel) make one message.
  const changed = (): void => {
    if (queued) return;
    queued = true;
    queueMicrotask(send);
  };
  registry.onChange(changed);
  drivers.onChange((module, clusterId) => {
    driverClusters.set(`${module}/${clusterId}`, { module, clusterId });
    changed();
  });
}
