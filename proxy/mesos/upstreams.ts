import http from 'node:http';
import https from 'node:https';
import { driverBaseUrl, type DriverDiscovery, type DriverModule } from '../../src/discovery/types';
import type { DriverRoutes } from '../tunnel/driver-tunnels';
import type { DriverModuleName } from '../tunnel/handshake';

/** Where one attempt goes: the driver's base URL and the agent that reaches it. */
export interface DriverUpstream {
  base: string;
  agent: http.Agent;
  via: 'tunnel' | 'zookeeper';
}

const TUNNEL_MODULE: Record<DriverModule, DriverModuleName> = { mesosdriver: 'mesos-driver', kubernetedriver: 'k8s-driver' };

export function shuffled<T>(items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * The drivers a passthrough request may go to, in the order to try them: the cluster's live driver
 * tunnels first (in random order, as the original shuffled its tunnel rows), then the drivers
 * ZooKeeper knows (random order). Only the transport differs: same path, headers and handling.
 */
export class DriverUpstreams {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent: https.Agent;

  /** `tls`: upstreamTls(config), the same for drivers found in ZooKeeper and drivers behind a tunnel. */
  constructor(
    private readonly discovery: DriverDiscovery,
    tls: https.AgentOptions,
    private readonly tunnels?: DriverRoutes,
  ) {
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, ...tls });
  }

  select(module: DriverModule, clusterId: string): DriverUpstream[] {
    const tunnelled = shuffled(this.tunnels?.live(TUNNEL_MODULE[module], clusterId) ?? []).map((t): DriverUpstream => ({ base: t.base, agent: t.agent, via: 'tunnel' }));
    const found = shuffled(this.discovery.drivers(module, clusterId)).map((d): DriverUpstream => {
      const base = driverBaseUrl(d);
      return { base, agent: base.startsWith('https:') ? this.httpsAgent : this.httpAgent, via: 'zookeeper' };
    });
    return [...tunnelled, ...found];
  }

  stop(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
