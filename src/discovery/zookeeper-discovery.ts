/**
 * ZooKeeper discovery of the original's services, informer style (style-models practice 12):
 * `start()`/`stop()`, an in-memory cache answered by `drivers()` and `servers()` without a ZooKeeper
 * read, and events. The parts: the session and its failure semantics (zk-session.ts), what is watched and
 * how the cache follows it (zk-watch.ts), and the cache itself (server-cache.ts). After a new session the
 * cache is rebuilt by diffing a full re-list against it, and this gateway's own node is registered again.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log';
import { BCS_ENDPOINTS_BASE, protectedGuid } from './registration';
import { driverGroup, serviceGroup, ServerCache } from './server-cache';
import { systemClock, type DiscoveredServer, type DiscoveryEmit, type DiscoveryHealth, type DiscoveryService, type ZookeeperDiscoveryOptions } from './service';
import { SERVICE_MODULES, type DiscoveryState, type DriverModule, type ServerInfo, type ServiceModule } from './types';
import { createZkClient, digestAcl, normaliseHosts, type ZkClient } from './zk-client';
import { SessionKeeper } from './zk-session';
import { WatchTree } from './zk-watch';

export * from './service';

const DRIVER_MODULES: readonly DriverModule[] = ['mesosdriver', 'kubernetedriver'];

export class ZookeeperDiscovery extends EventEmitter implements DiscoveryService {
  private readonly hosts: string;
  private readonly requestedTimeoutMs: number;
  private readonly services: readonly ServiceModule[];
  private readonly log?: Logger;
  private readonly cache: ServerCache;
  private readonly keeper: SessionKeeper;
  private readonly tree: WatchTree;
  private started = false;
  private stopped = false;

  constructor(private readonly options: ZookeeperDiscoveryOptions) {
    super();
    this.hosts = normaliseHosts(options.hosts);
    this.requestedTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.services = options.services ?? SERVICE_MODULES;
    this.log = options.logger?.child({ component: 'zookeeper-discovery' });
    const clock = options.clock ?? systemClock;
    const initialDelayMs = options.retry?.initialDelayMs ?? 1000;
    const maxDelayMs = options.retry?.maxDelayMs ?? 5000;
    const backoff = (attempt: number): number => Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt, 20));
    const emit: DiscoveryEmit = (event, ...args) => this.emit(event, ...args);
    this.cache = new ServerCache(emit);
    this.keeper = new SessionKeeper({
      hosts: this.hosts,
      requestedTimeoutMs: this.requestedTimeoutMs,
      factory: options.clientFactory ?? createZkClient,
      clock,
      auth: options.auth,
      nativeLogLevel: options.nativeLogLevel,
      backoff,
      log: this.log,
      emit,
      onConnected: (s) => void this.tree.resync(s).then(() => this.keeper.synchronised(s)),
    });
    this.tree = new WatchTree({
      base: (options.basePath ?? BCS_ENDPOINTS_BASE).replace(/\/+$/, ''),
      drivers: options.modules ?? DRIVER_MODULES,
      services: this.services,
      cache: this.cache,
      isCurrent: (s) => this.keeper.isCurrent(s),
      clock,
      backoff,
      register: options.register,
      acl: options.auth && digestAcl(options.auth.user, options.auth.password),
      guid: protectedGuid(),
      onRegistered: (path) => this.emit('registered', path),
      log: this.log,
    });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.keeper.open();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.keeper.stop();
    this.cache.clear();
    this.tree.clear();
  }

  drivers(module: DriverModule, clusterId: string): ServerInfo[] {
    return this.keeper.stale() ? [] : this.cache.servers(driverGroup(module, clusterId).key);
  }

  servers(module: ServiceModule): ServerInfo[] {
    return this.keeper.stale() ? [] : this.cache.servers(serviceGroup(module).key);
  }

  state(): DiscoveryState {
    return this.keeper.state();
  }

  /** Every cached server (stale ones included), for diagnostics. */
  list(): DiscoveredServer[] {
    return this.cache.list();
  }

  /** Cluster ids currently listed under a driver module. */
  clusterIds(module: DriverModule): string[] {
    return this.tree.clusterIds(module);
  }

  /** The session's client while connected: the change signal shares it (one ZooKeeper client per process). */
  connectedClient(): ZkClient | undefined {
    return this.keeper.current?.connected ? this.keeper.current.client : undefined;
  }

  /** The path of this gateway's own node in the current session, once created. */
  registrationPath(): string | undefined {
    return this.keeper.current?.ownPath;
  }

  health(): DiscoveryHealth {
    const state = this.state();
    const iso = (t?: number): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
    const message =
      state === 'connected'
        ? 'zookeeper connected, server cache in sync'
        : state === 'stale'
          ? `zookeeper unreachable for longer than the session timeout; not routing to discovered servers`
          : this.keeper.lastSyncAt === undefined
            ? 'connecting to zookeeper'
            : 'zookeeper connection lost; serving the cached servers while reconnecting';
    const all = this.list();
    const drivers = all.filter((s) => s.clusterId !== undefined);
    const services: Partial<Record<ServiceModule, number>> = {};
    for (const s of all) if (s.clusterId === undefined) services[s.module as ServiceModule] = (services[s.module as ServiceModule] ?? 0) + 1;
    const session = this.keeper.current;
    return {
      state,
      ready: state === 'connected',
      message,
      hosts: this.hosts,
      sessionId: session?.client.sessionId || undefined,
      sessionTimeoutMs: session?.client.sessionTimeoutMs ?? this.requestedTimeoutMs,
      sessions: this.keeper.sessions,
      lastSyncAt: iso(this.keeper.lastSyncAt),
      disconnectedSince: iso(this.keeper.disconnectedSince),
      clusters: new Set(drivers.map((s) => `${s.module}/${s.clusterId}`)).size,
      drivers: drivers.length,
      services,
      registration: this.options.register ? { path: session?.ownPath } : undefined,
    };
  }
}
