import type { DriverTunnels } from '../tunnel/driver-tunnels';
import type { TunnelRegistry } from '../tunnel/registry';
import type { HolderNode, HolderSource } from './directory';
import type { PeerModule } from './protocol';

/** Where peers reach this process: filled in once its listeners are bound (the registration's address). */
export interface SelfAddress {
  ip: string;
  port: number;
  scheme: 'http' | 'https';
}

const DRIVER_MODULES = ['mesos-driver', 'k8s-driver'] as const;

/**
 * Publishes, for each cluster, one ephemeral node per tunnel this process holds (module and reported
 * address), and withdraws it when the last such tunnel goes. ZooKeeper removes them with the session
 * when the process dies, which is how peers stop routing to it.
 */
export class HolderPublisher {
  /** Keys published, by cluster. */
  private readonly published = new Map<string, Set<string>>();

  constructor(
    private readonly source: HolderSource,
    private readonly owner: string,
    private readonly self: SelfAddress,
    private readonly registry: TunnelRegistry,
    private readonly drivers: DriverTunnels,
  ) {
    registry.onChange((clusterId) => this.refresh(clusterId));
    drivers.onChange((_module, clusterId) => this.refresh(clusterId));
  }

  refresh(clusterId: string): void {
    const wanted = new Map<string, HolderNode>();
    const add = (module: PeerModule, params: { address: string; hostPort: string }): void => {
      const node: HolderNode = { ip: this.self.ip, port: this.self.port, scheme: this.self.scheme, owner: this.owner, module, cluster: clusterId, target: params.hostPort, address: params.address };
      wanted.set(`${clusterId}|${module}|${params.hostPort}`, node);
    };
    for (const s of this.registry.sessionsOf(clusterId)) if (s.isOpen) add('kube-agent', s.params);
    for (const m of DRIVER_MODULES) for (const t of this.drivers.live(m, clusterId)) add(m, t.session.params);
    const before = this.published.get(clusterId) ?? new Set<string>();
    for (const key of before) if (!wanted.has(key)) this.source.withdrawHolder(key);
    for (const [key, node] of wanted) this.source.publishHolder(key, clusterId, this.self.ip, JSON.stringify(node));
    if (wanted.size) this.published.set(clusterId, new Set(wanted.keys()));
    else this.published.delete(clusterId);
  }
}
