import type { Registry } from 'prom-client';
import type { Runtime } from '../../src/runtime';
import type { TunnelRoutes } from '../../src/tunnel/routes';
import { workerRelaySide } from '../../src/workers/holder-feed';
import { upstreamTls } from '../shared/upstream-tls';
import type { DriverRoutes, DriverTunnels } from '../tunnel/driver-tunnels';
import type { TunnelRegistry } from '../tunnel/registry';
import { PeerDialer } from './dialer';
import { PeerDriverRoutes } from './driver-peers';
import { PeerDialEndpoint, type Dialable } from './endpoint';
import { PeerMetrics } from './metrics';
import type { DialRequest } from './protocol';
import { peerTunnelRoutes } from './routes';
import { WorkerHolderMap } from './worker-holders';
import { listenForWorkers } from './worker-listener';
import { publishToWorkers } from './worker-publisher';

/** What a worker's proxy gets from the relay between workers: routes through the others' tunnels. */
export interface HeldByWorkers {
  /** This worker's tunnel first, then another worker's. */
  routes: TunnelRoutes;
  drivers: DriverRoutes;
  /** For the replica relay's endpoint: the tunnels of a cluster other workers hold, dialled through them. */
  elsewhere(r: DialRequest): Dialable[];
  stop(): Promise<void>;
}

export interface WorkerRelay {
  hold(owner: string, tunnels: TunnelRegistry, drivers: DriverTunnels, local: TunnelRoutes): Promise<HeldByWorkers>;
}

/**
 * `proxy.workers` above 1: an agent's (or driver's) websocket reaches one worker, and the others reach
 * its tunnel through it. The same relay as between replicas (signed dial, raw bytes to the tunnel's far
 * end, the credential its holder sealed in the store), over each worker's Unix socket, with the holders
 * known from the primary rather than ZooKeeper. Undefined when this process is not such a worker.
 */
export function createWorkerRelay(rt: Runtime, registry: Registry): WorkerRelay | undefined {
  const side = workerRelaySide();
  if (!side) return undefined;
  const connectTimeoutMs = rt.config.proxy.connectTimeoutSeconds * 1000;
  const metrics = new PeerMetrics(registry, 'worker');
  const holders = new WorkerHolderMap(side);
  const dialer = new PeerDialer({ secret: side.secret }, connectTimeoutMs, metrics, false, (url) => holders.socketOf(url));
  return {
    async hold(owner, tunnels, drivers, local) {
      const endpoint = new PeerDialEndpoint(side.secret, tunnels, drivers, connectTimeoutMs, metrics, rt.logger.child({ component: 'workers' }));
      const listener = await listenForWorkers(side.socketPath, endpoint);
      publishToWorkers(side, owner, tunnels, drivers);
      const driverRoutes = new PeerDriverRoutes(drivers, holders, dialer, upstreamTls(rt.config));
      return {
        routes: peerTunnelRoutes(rt, local, holders, dialer),
        drivers: driverRoutes,
        elsewhere: (r) =>
          holders.holders(r.clusterId, r.module).map((h) => ({ params: { hostPort: h.target }, dial: (target: string) => dialer.dial(h.url, { ...r, target }) })),
        stop: async () => {
          driverRoutes.stop();
          await listener.close();
        },
      };
    },
  };
}
