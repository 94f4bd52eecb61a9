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
import { ProxyMetrics } from './shared/metrics';
import { GrantAccess } from './shared/grant-access';
import { PrincipalCache } from './shared/principal-cache';
import { OpenStreams } from './shared/streams';
import type { AdmissionRunner } from './webhooks/types';
import { TunnelMetrics } from './tunnel/metrics';
import { TunnelRegistry } from './tunnel/registry';
import { tunnelRoutes } from './tunnel/routes';
import { TunnelServer } from './tunnel/server';
import type { SessionLimits } from './tunnel/session';

export interface ProxySurfaces {
  mounts: Mount[];
  /** Live agent tunnels in this process, by cluster. */
  tunnels: TunnelRegistry;
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
  const tunnelServer = new TunnelServer(rt, tunnels, new TunnelMetrics(registry), opts.tunnelLimits, opts.tunnelRecheckMs, opts.tunnelHeartbeatMs);
  const tunnel = new TunnelProxy(rt, principals, metrics, streams, auditLog, tunnelRoutes(tunnels, rt.config.proxy.connectTimeoutSeconds * 1000));
  tunnels.onChange((clusterId, connected) => tunnel.tunnelChanged(clusterId, connected));
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
  const grants = new GrantAccess(rt);
  const drivers = new DriverPassthrough(rt, principals, metrics, auditLog, opts.discovery ?? NO_DISCOVERY, grants, opts.admission ?? runner, webhookRoutes);
  const moduleUpstream = new ModuleUpstream({
    connectTimeoutMs: rt.config.modules.connectTimeoutSeconds * 1000,
    responseTimeoutMs: rt.config.modules.responseTimeoutSeconds * 1000,
    tls: upstreamTls(rt.config),
  });
  const modules = new ModulePassthrough(metrics, auditLog, opts.modules ?? NO_MODULES, createModuleAccess(rt, principals, grants), moduleUpstream);
  const feed = new ChangeFeedFollower(rt, (kind, key) => {
    if (kind === 'token') principals.invalidateToken(key);
    else if (kind === 'user') principals.invalidateUser(Number(key));
    tunnel.onChange(kind, key);
    tunnelServer.onChange(kind, key);
    streams.onChange(kind, key);
    if (kind === 'webhook') runner?.invalidate();
    if (kind === 'rbac') grants.invalidate();
  });
  await feed.start();
  return {
    mounts: [tunnel.mount(), tunnelServer.mount(), ...drivers.mounts(), ...modules.mounts()],
    tunnels,
    stop: async () => {
      feed.stop();
      tunnelServer.stop();
      tunnel.stop();
      drivers.stop();
      await moduleUpstream.close();
      auditLog.flush();
      runner?.close();
    },
  };
}
