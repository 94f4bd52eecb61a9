/**
 * ZooKeeper discovery of the original's services, informer style (style-models practice 12):
 * `start()`/`stop()`, an in-memory cache answered by `drivers()` and `servers()` without a ZooKeeper
 * read, and events. The parts: the session and its failure semantics (zk-session.ts), what is watched and
 * how the cache follows it (zk-watch.ts), and the cache itself (server-cache.ts). After a new session the
 * cache is rebuilt by diffing a full re-list against it, and this gateway's own node is registered again.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log';
import { discoveryHealth } from './health';
import { PublishedNodes } from './published-nodes';
import { BCS_ENDPOINTS_BASE, protectedGuid } from './registration';
import { driverGroup, serviceGroup, ServerCache } from './server-cache';
import { systemClock, type DiscoveredServer, type DiscoveryEmit, type DiscoveryHealth, type DiscoveryService, type ZookeeperDiscoveryOptions } from './service';
import { HOLDER_MODULE, SERVICE_MODULES, TUNNEL_HOLDERS_DIR, type DiscoveryState, type DriverModule, type ServerInfo, type ServiceModule } from './types';
import { createZkClient, digestAcl, ensurePath, normaliseHosts, type ZkClient } from './zk-client';
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
  private readonly published: PublishedNodes;
  private readonly holdersDir: string;
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
    const acl = options.auth && digestAcl(options.auth.user, options.auth.password);
    this.holdersDir = options.holdersPath ?? TUNNEL_HOLDERS_DIR;
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
      // The holders' directory exists before it is watched, so the first tunnel anywhere is seen at once.
      onConnected: (s) =>
        void (options.holders ? ensurePath(s.client, this.holdersDir, acl).catch(() => undefined) : Promise.resolve())
          .then(() => Promise.all([this.tree.resync(s), this.published.resync(s)]))
          .then(() => this.keeper.synchronised(s)),
    });
    this.tree = new WatchTree({
      base: (options.basePath ?? BCS_ENDPOINTS_BASE).replace(/\/+$/, ''),
      drivers: [...(options.modules ?? DRIVER_MODULES), ...(options.holders ? [HOLDER_MODULE] : [])],
      dirs: { [HOLDER_MODULE]: this.holdersDir },
      services: this.services,
      cache: this.cache,
      isCurrent: (s) => this.keeper.isCurrent(s),
      clock,
      backoff,
      register: options.register,
      acl,
      guid: protectedGuid(),
      onRegistered: (path) => this.emit('registered', path),
      log: this.log,
    });
    this.published = new PublishedNodes(() => this.keeper.current, (s) => this.keeper.isCurrent(s), acl, this.log);
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
    return discoveryHealth(this.keeper, this.list(), { hosts: this.hosts, requestedTimeoutMs: this.requestedTimeoutMs, registering: Boolean(this.options.register) });
  }

  /**
   * Replicas publishing a cluster's tunnels (this process's own nodes included). Unlike drivers, the last
   * known holders stay in use while stale: ZooKeeper down (restarting, or cut off from this replica) says
   * nothing about whether a peer still holds a tunnel, and the peer itself answers that on every relay
   * (it refuses a tunnel it no longer holds; a peer that is gone refuses the dial), so a ZooKeeper outage
   * does not stop relays that still work.
   */
  holders(clusterId: string): ServerInfo[] {
    return this.cache.servers(driverGroup(HOLDER_MODULE, clusterId).key);
  }

  /** Publishes an ephemeral node under `<holders dir>/<cluster id>`, kept across sessions until withdrawn. */
  publishHolder(key: string, clusterId: string, name: string, data: string): void {
    this.published.publish(key, `${this.holdersDir}/${clusterId}`, name, data);
  }

  withdrawHolder(key: string): void {
    this.published.withdraw(key);
  }
}
