import type { Registry } from 'prom-client';
import { AuditLog } from './k8s/audit';
import type { DriverDiscovery, ServiceDiscovery } from '../src/discovery/types';
import type { Mount } from '../src/http/types';
import type { Runtime } from '../src/runtime';
import { TunnelProxy } from './k8s/tunnel-proxy';
import { authenticate } from '../src/domain/auth';
import { DriverPassthrough, type WebhookRouteHandler } from './mesos/passthrough';
import { createModuleAccess } from './services/module-access';
import { ModulePassthrough } from './services/passthrough';
import { ModuleUpstream } from './services/upstream';
import { upstreamTls } from './shared/upstream-tls';
import { handleAdmissionWebhookRoute, isAdmissionWebhookRoute } from './webhooks/routes';
import { AdmissionWebhookRunner } from './webhooks/runner';
import { ChangeFeedFollower } from '../src/domain/change-feed';
import type { ChangeSignal } from '../src/domain/change-signal';
import { ProxyMetrics } from './shared/metrics';
import { BcsapiAccess } from './shared/bcsapi-access';
import { GrantAccess } from './shared/grant-access';
import { PrincipalCache } from './shared/principal-cache';
import { OpenStreams } from './shared/streams';
import type { AdmissionRunner } from './webhooks/types';
import { TunnelMetrics } from './tunnel/metrics';
import { TunnelRegistry } from './tunnel/registry';
import { DriverTunnels } from './tunnel/driver-tunnels';
import { tunnelRoutes, type TunnelRoutes } from './tunnel/routes';
import { TunnelServer } from './tunnel/server';
import { WebConsole } from './webconsole/console';
import type { SessionLimits } from './tunnel/session';
import type { Peering, WorkerRelay } from './peers';

export { createPeering, createWorkerRelay, type Peering, type HolderSource, type SelfAddress, type WorkerRelay } from './peers';

export interface ProxySurfaces {
  mounts: Mount[];
  /** Live agent tunnels in this process, by cluster. */
  tunnels: TunnelRegistry;
  /** The same tunnels as other parts of the process use them (RBAC pushes through them). */
  tunnelRoutes: TunnelRoutes;
  /** Live Mesos and k8s driver tunnels in this process. */
  driverTunnels: DriverTunnels;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** Mesos/k8s driver discovery; without it the driver routes say ZooKeeper is not configured. */
  discovery?: DriverDiscovery;
  /** Module discovery (storage, netservice, …); without it the module routes say ZooKeeper is not configured. */
  modules?: ServiceDiscovery;
  admission?: AdmissionRunner;
  webhookRoutes?: WebhookRouteHandler;
  /** Agent tunnel keepalive and flow-control bounds, and how often register tokens are checked again (tests shorten them). */
  tunnelLimits?: SessionLimits;
  tunnelRecheckMs?: number;
  /** How often tunnel rows' heartbeats are refreshed and dead processes' rows pruned (tests shorten it). */
  tunnelHeartbeatMs?: number;
  /** The gateway's own addresses, which the web console refuses to dial (default: every interface's). */
  ownAddresses?: string[];
  /** Other processes' changes announced through ZooKeeper; without it the change feed is polled every 500 ms. */
  changeSignal?: ChangeSignal;
  /** Replicas sharing tunnels (ZooKeeper and a peering secret configured). */
  peering?: Peering;
  /** Workers of one primary sharing tunnels (`proxy.workers` above 1). */
  workerRelay?: WorkerRelay;
}

const NO_DISCOVERY: DriverDiscovery = { drivers: () => [], state: () => 'disabled' };
const NO_MODULES: ServiceDiscovery = { servers: () => [], state: () => 'disabled' };

/**
 * The proxy half: the Kubernetes tunnel, the driver passthrough and the module passthroughs over the
 * shared store. One principal cache and one change-feed follower serve every surface.
 */
export async function createProxy(rt: Runtime, registry: Registry, opts: ProxyOptions = {}): Promise<ProxySurfaces> {
  const principals = new PrincipalCache(rt);
  const metrics = new ProxyMetrics(registry);
  const streams = new OpenStreams(principals, rt.logger, rt.storeHealth);
  // One audit trail for every surface: one batch per event-loop turn, flushed once at shutdown.
  const auditLog = new AuditLog(rt.logger);
  // Agent tunnels: clusters the gateway cannot dial are reached through the websocket their agent opened.
  const tunnels = new TunnelRegistry();
  const connectTimeoutMs = rt.config.proxy.connectTimeoutSeconds * 1000;
  const driverTunnels = new DriverTunnels(upstreamTls(rt.config), connectTimeoutMs);
  const tunnelServer = new TunnelServer(rt, tunnels, new TunnelMetrics(registry), opts.tunnelLimits, opts.tunnelRecheckMs, opts.tunnelHeartbeatMs, driverTunnels);
  // A tunnel this worker holds first, then another worker's (`proxy.workers`), then (peering) another replica's.
  const local = tunnelRoutes(tunnels, connectTimeoutMs);
  const near = await opts.workerRelay?.hold(tunnelServer.ownerId, tunnels, driverTunnels, local);
  const held = opts.peering?.holdTunnels(tunnelServer.ownerId, tunnels, driverTunnels, near);
  const routes = opts.peering ? opts.peering.routes(near?.routes ?? local) : (near?.routes ?? local);
  const tunnel = new TunnelProxy(rt, principals, metrics, streams, auditLog, routes);
  routes.onChange((clusterId, connected) => tunnel.tunnelChanged(clusterId, connected));
  // Changes made elsewhere arrive through the change feed below; the refresh is only a safety net.
  const runner = opts.admission ? undefined : new AdmissionWebhookRunner(rt, registry, { refreshMs: 5 * 60_000 });
  // Webhook configuration routes are management calls: the full principal is loaded for the domain's checks.
  const webhookRoutes: WebhookRouteHandler =
    opts.webhookRoutes ??
    (async (method, uri, body, token) => {
      if (!isAdmissionWebhookRoute(uri)) return undefined;
      const ctx = rt.context();
      return handleAdmissionWebhookRoute(rt, method, uri, body, await authenticate(ctx.em, token, ctx.now()));
    });
  // Who may call /bcsapi routes and what for: one decision for the driver, module and console routes.
  const access = new BcsapiAccess(rt, principals, new GrantAccess(rt));
  const drivers = new DriverPassthrough(rt, access, metrics, auditLog, opts.discovery ?? NO_DISCOVERY, opts.admission ?? runner, webhookRoutes, held?.driverRoutes ?? near?.drivers ?? driverTunnels);
  const webconsole = new WebConsole(rt, access, metrics, auditLog, streams, opts.ownAddresses);
  const moduleUpstream = new ModuleUpstream({
    connectTimeoutMs: rt.config.modules.connectTimeoutSeconds * 1000,
    responseTimeoutMs: rt.config.modules.responseTimeoutSeconds * 1000,
    tls: upstreamTls(rt.config),
  });
  const modules = new ModulePassthrough(metrics, auditLog, opts.modules ?? NO_MODULES, createModuleAccess(access), moduleUpstream);
  const feed = new ChangeFeedFollower(rt, (kind, key) => {
    if (kind === 'token') principals.invalidateToken(key);
    else if (kind === 'user') principals.invalidateUser(Number(key));
    tunnel.onChange(kind, key);
    tunnelServer.onChange(kind, key);
    streams.onChange(kind, key);
    if (kind === 'webhook') runner?.invalidate();
    access.onChange(kind, key);
  }, { signal: opts.changeSignal });
  await feed.start();
  return {
    mounts: [tunnel.mount(), tunnelServer.mount(), ...(held ? [held.mount] : []), ...drivers.mounts(), ...modules.mounts(), webconsole.mount()],
    tunnels,
    tunnelRoutes: routes,
    driverTunnels,
    stop: async () => {
      feed.stop();
      await tunnelServer.stop();
      tunnel.stop();
      drivers.stop();
      held?.driverRoutes.stop();
      await near?.stop();
      await webconsole.stop();
      await moduleUpstream.close();
      auditLog.flush();
      runner?.close();
    },
  };
}
