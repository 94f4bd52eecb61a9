import type { Registry } from 'prom-client';
import type { Mount } from '../../src/http/types';
import type { Runtime } from '../../src/runtime';
import type { TunnelRoutes } from '../../src/tunnel/routes';
import { upstreamTls } from '../shared/upstream-tls';
import type { DriverTunnels } from '../tunnel/driver-tunnels';
import type { TunnelRegistry } from '../tunnel/registry';
import { PeerDialer } from './dialer';
import { PeerDriverRoutes } from './driver-peers';
import { HolderDirectory, type HolderSource } from './directory';
import { PeerDialEndpoint } from './endpoint';
import { PeerMetrics } from './metrics';
import { HolderPublisher, type SelfAddress } from './publisher';
import { peerTunnelRoutes } from './routes';
import type { HeldByWorkers } from './worker-relay';

export type { HolderSource } from './directory';
export type { SelfAddress } from './publisher';
export { createWorkerRelay, type WorkerRelay } from './worker-relay';

/** Replicas sharing agent and driver tunnels (see proxy/peers/protocol.ts for the relay itself). */
export interface Peering {
  /** Agent tunnel routes across replicas over this process's own (none on an `--role api` replica). */
  routes(local?: TunnelRoutes): TunnelRoutes;
  /** The tunnel side: publishes this process's tunnels, serves relays for peers, and routes drivers across replicas. */
  /** `near`: with `proxy.workers`, the other workers' tunnels (routes to drivers, and relays a peer asks of this worker for them). */
  holdTunnels(owner: string, registry: TunnelRegistry, drivers: DriverTunnels, near?: Pick<HeldByWorkers, 'drivers' | 'elsewhere'>): { mount: Mount; driverRoutes: PeerDriverRoutes };
}

/** Undefined when peering is off (no ZooKeeper, or no secret). */
export function createPeering(rt: Runtime, registry: Registry, source: HolderSource | undefined, self: SelfAddress): Peering | undefined {
  const config = rt.config.peering;
  if (!config || !source) return undefined;
  const connectTimeoutMs = rt.config.proxy.connectTimeoutSeconds * 1000;
  const metrics = new PeerMetrics(registry);
  const directory = new HolderDirectory(source);
  const dialer = new PeerDialer(config, connectTimeoutMs, metrics, Boolean(rt.config.tls));
  return {
    routes: (local) => peerTunnelRoutes(rt, local, directory, dialer),
    holdTunnels(owner, tunnels, drivers, near) {
      directory.addOwn(owner);
      new HolderPublisher(source, owner, self, tunnels, drivers);
      const endpoint = new PeerDialEndpoint(config.secret, tunnels, drivers, connectTimeoutMs, metrics, rt.logger.child({ component: 'peering' }), near?.elsewhere);
      return { mount: endpoint.mount(), driverRoutes: new PeerDriverRoutes(near?.drivers ?? drivers, directory, dialer, upstreamTls(rt.config)) };
    },
  };
}
