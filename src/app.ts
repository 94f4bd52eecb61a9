import { createPeering, createProxy, createWorkerRelay } from '../proxy';
import type { Http2SecureServer } from 'node:http2';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Config } from './config/config';
import { createChangeSignal, createDiscovery, ZookeeperDiscovery, type DiscoveryService, type SelfRegistration } from './discovery';
import type { ChangeSignal } from './domain/change-signal';
import { CHANGE_RETENTION_MS, pruneChanges } from './domain/changes';
import { purgeDeadTokens } from './domain/tokens';

const DEAD_TOKEN_RETENTION_MS = 30 * 24 * 3600_000;
import { createGraphqlMounts } from './graphql';
import { explainFirstRunBindError, keepServerCertFresh, withFirstRunTls } from './http/first-run-tls';
import { healthMounts } from './http/health';
import { startMetricsListener, type MetricsListener } from './http/metrics-listener';
import { startListeners, type Listening } from './http/server';
import type { Mount } from './http/types';
import type { Logger } from './log';
import { createRegistry, metricsMount } from './metrics';
import { startRbacSync } from './rbac/service';
import { createRestMounts } from './rest';
import { WorkerChangeSignal, workerId } from './workers/worker';
import { startRuntime, type Runtime, type RuntimeOptions, type StartedRuntime } from './runtime';
import type { TunnelRoutes } from './tunnel/routes';

const VERSION: string = (require('../../package.json') as { version: string }).version;

export type Role = 'all' | 'api' | 'proxy';

export interface App {
  runtime: StartedRuntime;
  listening: Listening;
  /** The default admin's token when this start created it (shown once). */
  defaultAdminToken?: string;
  /** The separate Prometheus listener (`metric_config.metric_port`), when configured. */
  metricsListener?: MetricsListener;
  stop(): Promise<void>;
}

/**
 * The one place `src/` reaches into `proxy/`: the co-deployed proxy shares this process's runtime
 * (store, keyring, change bus) unless it runs alone as a sidecar (`--role proxy`).
 */
export async function buildMounts(
  rt: Runtime,
  role: Role,
  isShuttingDown: () => boolean,
  discovery: DiscoveryService,
  self: SelfRegistration,
  changeSignal?: ChangeSignal,
  /** What the caches follow: the ZooKeeper signal, or between workers their IPC one (not a readiness path). */
  feedSignal = changeSignal,
): Promise<{ mounts: Mount[]; registry: Registry; stop(): Promise<void> }> {
  const registry = createRegistry();
  // Replicas share tunnels through ZooKeeper: an `--role api` replica pushes RBAC through the proxy holding the tunnel.
  const peering = createPeering(rt, registry, discovery instanceof ZookeeperDiscovery ? discovery : undefined, self);
  const mounts: Mount[] = [...healthMounts(rt.orm, isShuttingDown, () => discovery.health(), changeSignal)];
  if (rt.config.metrics.onMainListener) mounts.push(metricsMount(registry));
  const stops: (() => Promise<void>)[] = [];
  let tunnels: TunnelRoutes | undefined;
  if (role !== 'api') {
    // Workers of one primary relay tunnels to each other over their own sockets (undefined when not a worker).
    const workerRelay = createWorkerRelay(rt, registry);
    const proxy = await createProxy(rt, registry, { discovery, modules: discovery, changeSignal: feedSignal, peering, workerRelay });
    stops.push(proxy.stop);
    mounts.push(...proxy.mounts);
    tunnels = proxy.tunnelRoutes;
  } else tunnels = peering?.routes();
  if (role !== 'proxy') {
    // RBAC reaches a cluster through an agent tunnel (this process's, or with peering a peer's), as the proxy does.
    const rbac = await startRbacSync(rt, registry, tunnels, feedSignal);
    stops.push(rbac.stop);
    const gql = await createGraphqlMounts(rt, rbac.access);
    stops.push(gql.stop);
    mounts.push(...gql.mounts, ...createRestMounts(rt));
  }
  return { mounts, registry, stop: async () => void (await Promise.all(stops.map((s) => s()))) };
}

/** The address other BCS services reach this gateway at: `local_ip`, else the bound one, else the first external IPv4. */
function advertisedIp(config: Config, bound: string): string {
  if (config.localIp) return config.localIp;
  if (bound !== '0.0.0.0' && bound !== '::') return bound;
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  return external?.address ?? '127.0.0.1';
}

/** The composition root: store, domain, discovery, edges, listeners. */
export async function startApp(configured: Config, logger: Logger, opts: RuntimeOptions & { role?: Role } = {}): Promise<App> {
  const firstRunTls = configured.tls ? undefined : configured.autoTls;
  const config = await withFirstRunTls(configured, logger, { serverCert: true });
  const runtime = await startRuntime(config, logger, opts);
  let shuttingDown = false;
  // Filled in once the listeners are bound (the port may be chosen by the OS), before discovery starts.
  const registration: SelfRegistration = { ip: '', port: 0, scheme: config.tls ? 'https' : 'http', version: VERSION };
  const discovery = createDiscovery(config, { register: registration, logger, holders: Boolean(config.peering) });
  // Replicas hear each other's commits through ZooKeeper, over the discovery's own session.
  const changeSignal = createChangeSignal(config, discovery, logger);
  // Workers of one primary (`proxy.workers`) without ZooKeeper hear each other's commits over IPC.
  const feedSignal: ChangeSignal | undefined = changeSignal ?? (workerId() ? new WorkerChangeSignal() : undefined);
  const unannounce = feedSignal
    ? runtime.deps.changes.subscribe((_kind, _key, feedId) => {
        if (feedId !== undefined) feedSignal.notify(feedId);
      })
    : undefined;
  let built: Awaited<ReturnType<typeof buildMounts>> | undefined;
  try {
    const edges = (built = await buildMounts(runtime, opts.role ?? 'all', () => shuttingDown, discovery, registration, changeSignal, feedSignal));
    const listening = await startListeners(config, edges.mounts, logger).catch((err: unknown) => {
      throw firstRunTls ? explainFirstRunBindError(err, firstRunTls) : err;
    });
    let metricsListener: MetricsListener | undefined;
    if (config.metrics.listener) {
      try {
        metricsListener = await startMetricsListener(config.metrics.listener, edges.registry, logger);
      } catch (err) {
        await listening.close();
        throw err;
      }
    }
    const first = listening.servers[0]!.address() as AddressInfo;
    // The TLS listener is the first one. Asked for port 0 (tests), its port is known only now, and
    // kubeconfigs handed out over the plain listener must name it.
    if (config.tls?.port === 0) runtime.deps.config = { ...runtime.deps.config, tls: { ...config.tls, port: first.port } };
    const stopRenewal = firstRunTls ? keepServerCertFresh(firstRunTls, listening.servers[0] as Http2SecureServer, logger) : () => undefined;
    registration.ip = advertisedIp(config, first.address);
    registration.port = first.port;
    if (metricsListener) registration.metric_port = metricsListener.port;
    discovery.start();
    changeSignal?.start();
    // Housekeeping every ten minutes, by every process (idempotent): the append-only change feed, and
    // tokens dead (expired or revoked) for more than a month.
    const pruning = setInterval(() => {
      const ctx = runtime.context();
      const now = ctx.now().getTime();
      Promise.all([pruneChanges(ctx.em, new Date(now - CHANGE_RETENTION_MS)), purgeDeadTokens(ctx.em, new Date(now - DEAD_TOKEN_RETENTION_MS))]).catch((err: unknown) => {
        if (!runtime.storeHealth.report(err)) logger.warn({ err }, 'housekeeping failed; it is retried in ten minutes');
      });
    }, 10 * 60_000);
    pruning.unref();
    return {
      runtime,
      listening,
      defaultAdminToken: runtime.bootstrap.defaultAdmin?.token,
      metricsListener,
      stop: async () => {
        shuttingDown = true;
        clearInterval(pruning);
        stopRenewal();
        await Promise.all([listening.close(), metricsListener?.close()]);
        unannounce?.();
        changeSignal?.stop();
        await discovery.stop();
        await edges.stop();
        await runtime.close();
      },
    };
  } catch (err) {
    // A listener that cannot bind must not leave the edges' timers (proxy, RBAC sync) holding the process.
    shuttingDown = true;
    await built?.stop();
    unannounce?.();
    changeSignal?.stop();
    await discovery.stop();
    await runtime.close();
    throw err;
  }
}
