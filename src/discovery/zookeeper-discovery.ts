/**
 * ZooKeeper discovery of mesos/k8s drivers, informer style (style-models practice 12): `start()`/`stop()`,
 * an in-memory cache answered by `drivers()` without a ZooKeeper read, and events. ZooKeeper watches are
 * one-shot; they are armed and re-armed in one place (`watcher()`), and every refresh is a re-list of
 * the watched path, so a lost or duplicated notification cannot leave the cache wrong.
 *
 * Failure semantics (Curator's SUSPENDED/LOST, conventions-and-faults §0 finding 9 and B1):
 * - link lost (`connecting`): keep serving the cache; after one session timeout without a connection
 *   the entries are stale: `drivers()` returns [] and `state()` is 'stale' until the next full sync;
 * - re-connected within the session: the C client re-registers its watches; we re-list anyway;
 * - link broken under a call (`close` with LINK_LOST; see zk-client): a new client resumes the session,
 *   every watch re-armed, the own node adopted;
 * - session expired (`close`; the handle is dead): a new client, every watch re-armed, the cache rebuilt
 *   by diffing a full re-list against it, and this gateway's own node registered again.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log';
import { BCS_ENDPOINTS_BASE, createProtectedEphemeralSequential, orderBySequence, parseServerInfo, protectedGuid } from './registration';
import type { DiscoveryState, DriverDiscovery, DriverModule, ServerInfo } from './types';
import {
  createZkClient,
  digestAcl,
  isConnectionError,
  isNoNode,
  normaliseHosts,
  ZK_CLOSE,
  ZK_EVENT,
  type ZkAcl,
  type ZkClient,
  type ZkClientFactory,
  type ZkSession,
  type ZkWatcher,
} from './zk-client';

/** Timers, injectable so tests can control time. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What this gateway registers under `/bcs/services/endpoints/apiserver` (the original's APIServInfo). */
export interface SelfRegistration {
  ip: string;
  port: number;
  scheme: 'http' | 'https';
  version?: string;
  pid?: number;
  metric_port?: number;
  [key: string]: unknown;
}

export interface ZookeeperDiscoveryOptions {
  /** `bcs_zookeeper`: comma-separated hosts (`host[:port]`). */
  hosts: string;
  /** Requested session timeout; the server may negotiate another. Default 10 s, as the original. */
  sessionTimeoutMs?: number;
  /** Digest credentials: sent with `addAuth` and used as the ACL of every node this gateway creates. */
  auth?: { user: string; password: string };
  /** Register this gateway under `<base>/apiserver`; omitted = do not register. */
  register?: SelfRegistration;
  basePath?: string;
  modules?: readonly DriverModule[];
  clientFactory?: ZkClientFactory;
  clock?: Clock;
  /** Backoff for a missing base path and failed reads: initial delay doubling up to max (ms). */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** The C client's own log level (0 off … 4 debug); default 1 (errors). */
  nativeLogLevel?: number;
  logger?: Logger;
}

/** One discovered driver node. */
export interface DiscoveredServer {
  module: DriverModule;
  clusterId: string;
  /** Node name, `_c_<guid>-<ip><sequence>`. */
  node: string;
  path: string;
  info: ServerInfo;
}

/** The summary `/readyz` shows. `ready` is false only while discovery is configured and not fresh. */
export interface DiscoveryHealth {
  state: DiscoveryState;
  ready: boolean;
  message: string;
  hosts?: string;
  sessionId?: string;
  sessionTimeoutMs?: number;
  /** ZooKeeper clients created so far (each new one follows an expired or closed session). */
  sessions?: number;
  lastSyncAt?: string;
  disconnectedSince?: string;
  clusters?: number;
  drivers?: number;
  /** This gateway's own node under `<base>/apiserver`, when registration is on. */
  registration?: { path?: string };
}

export interface DiscoveryEvents {
  add: [server: DiscoveredServer];
  update: [server: DiscoveredServer, previous: DiscoveredServer];
  delete: [server: DiscoveredServer];
  /** Connected (first time or again); the re-list follows, then `synced`. */
  connect: [];
  /** The cache matches ZooKeeper again (after start, a reconnect or a new session). */
  synced: [];
  disconnect: [];
  /** A session timeout passed without a connection: entries are no longer routed to. */
  stale: [];
  /** The session ended (expired, auth failed or closed under us); a new client follows. */
  expired: [code: number];
  /** This gateway's own node was (re-)created. */
  registered: [path: string];
}

/** What the passthroughs and /readyz use; both implementations below satisfy it. */
export interface DiscoveryService extends DriverDiscovery {
  start(): void;
  stop(): Promise<void>;
  health(): DiscoveryHealth;
  list(): DiscoveredServer[];
  on<E extends keyof DiscoveryEvents>(event: E, listener: (...args: DiscoveryEvents[E]) => void): this;
  off<E extends keyof DiscoveryEvents>(event: E, listener: (...args: DiscoveryEvents[E]) => void): this;
}

type Target =
  | { kind: 'module'; module: DriverModule }
  | { kind: 'cluster'; module: DriverModule; clusterId: string }
  | { kind: 'node'; module: DriverModule; clusterId: string; node: string }
  | { kind: 'self' };

const targetKey = (t: Target): string => {
  switch (t.kind) {
    case 'module':
      return `module:${t.module}`;
    case 'cluster':
      return `cluster:${t.module}/${t.clusterId}`;
    case 'node':
      return `node:${t.module}/${t.clusterId}/${t.node}`;
    case 'self':
      return 'self';
  }
};

/** Everything tied to one ZooKeeper handle; dropped as a whole when the session ends. */
interface Session {
  readonly seq: number;
  readonly client: ZkClient;
  connected: boolean;
  ended: boolean;
  /** Watches armed on this session (targetKey): at most one per target. */
  readonly armed: Set<string>;
  /** Refreshes running; `dirty` asks for one more pass when the current one ends. */
  readonly running: Map<string, { dirty: boolean; done: Promise<void> }>;
  readonly retries: Map<string, { attempt: number; timer?: unknown }>;
  ownPath?: string;
}

const clusterKey = (module: DriverModule, clusterId: string): string => `${module}/${clusterId}`;

export class ZookeeperDiscovery extends EventEmitter implements DiscoveryService {
  private readonly hosts: string;
  private readonly requestedTimeoutMs: number;
  private readonly base: string;
  private readonly modules: readonly DriverModule[];
  private readonly factory: ZkClientFactory;
  private readonly clock: Clock;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly acl?: ZkAcl[];
  private readonly guid = protectedGuid();
  private readonly log?: Logger;

  private session?: Session;
  private sessionSeq = 0;
  private started = false;
  private stopped = false;
  private synced = false;
  private stale = false;
  private staleTimer?: unknown;
  private reopenTimer?: unknown;
  private failedSessions = 0;
  private lastSyncAt?: number;
  private disconnectedSince?: number;

  /** Clusters being watched per module (= the module directory's last listing). */
  private readonly clusters = new Map<DriverModule, Set<string>>();
  /** Last child listing of each watched cluster directory (valid names only). */
  private readonly listings = new Map<string, Set<string>>();
  /** The cache: cluster key → node name → server. */
  private readonly cache = new Map<string, Map<string, DiscoveredServer>>();
  /** `drivers()` answers, rebuilt lazily after a change. */
  private readonly ordered = new Map<string, ServerInfo[]>();

  constructor(private readonly options: ZookeeperDiscoveryOptions) {
    super();
    this.hosts = normaliseHosts(options.hosts);
    this.requestedTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.base = (options.basePath ?? BCS_ENDPOINTS_BASE).replace(/\/+$/, '');
    this.modules = options.modules ?? ['mesosdriver', 'kubernetedriver'];
    this.factory = options.clientFactory ?? createZkClient;
    this.clock = options.clock ?? systemClock;
    this.initialDelayMs = options.retry?.initialDelayMs ?? 1000;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 5000;
    this.acl = options.auth && digestAcl(options.auth.user, options.auth.password);
    this.log = options.logger?.child({ component: 'zookeeper-discovery' });
    for (const m of this.modules) this.clusters.set(m, new Set());
  }

  // ---- public view ---------------------------------------------------------------------------------

  start(): void {
    if (this.started) return;
    this.started = true;
    this.openSession();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimer('staleTimer');
    this.clearTimer('reopenTimer');
    const s = this.session;
    this.session = undefined;
    if (s) this.endSession(s, true);
    this.cache.clear();
    this.ordered.clear();
    this.listings.clear();
    for (const set of this.clusters.values()) set.clear();
    this.synced = false;
  }

  drivers(module: DriverModule, clusterId: string): ServerInfo[] {
    if (this.stale || this.stopped) return [];
    const key = clusterKey(module, clusterId);
    let list = this.ordered.get(key);
    if (!list) {
      const entries = this.cache.get(key);
      if (!entries) return [];
      list = orderBySequence([...entries.keys()]).map((n) => entries.get(n)!.info);
      this.ordered.set(key, list);
    }
    return [...list];
  }

  state(): DiscoveryState {
    if (this.stale) return 'stale';
    return this.session?.connected && this.synced ? 'connected' : 'connecting';
  }

  /** Every cached server (stale ones included), for diagnostics. */
  list(): DiscoveredServer[] {
    return [...this.cache.values()].flatMap((m) => [...m.values()]);
  }

  /** Cluster ids currently listed under a module. */
  clusterIds(module: DriverModule): string[] {
    return [...(this.clusters.get(module) ?? [])].sort();
  }

  /** The path of this gateway's own node in the current session, once created. */
  registrationPath(): string | undefined {
    return this.session?.ownPath;
  }

  health(): DiscoveryHealth {
    const state = this.state();
    const iso = (t?: number): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
    const message =
      state === 'connected'
        ? 'zookeeper connected, driver cache in sync'
        : state === 'stale'
          ? `zookeeper unreachable for longer than the session timeout; not routing to discovered drivers`
          : this.lastSyncAt === undefined
            ? 'connecting to zookeeper'
            : 'zookeeper connection lost; serving the cached drivers while reconnecting';
    return {
      state,
      ready: state === 'connected',
      message,
      hosts: this.hosts,
      sessionId: this.session?.client.sessionId || undefined,
      sessionTimeoutMs: this.session?.client.sessionTimeoutMs ?? this.requestedTimeoutMs,
      sessions: this.sessionSeq,
      lastSyncAt: iso(this.lastSyncAt),
      disconnectedSince: iso(this.disconnectedSince),
      clusters: this.cache.size,
      drivers: this.list().length,
      registration: this.options.register ? { path: this.session?.ownPath } : undefined,
    };
  }

  // ---- sessions --------------------------------------------------------------------------------------

  private openSession(resume?: ZkSession): void {
    if (this.stopped) return;
    let client: ZkClient;
    try {
      client = this.factory({ connect: this.hosts, sessionTimeoutMs: this.requestedTimeoutMs, logLevel: this.options.nativeLogLevel, session: resume });
    } catch (err) {
      this.log?.error({ err }, 'cannot create a zookeeper client; retrying');
      this.scheduleReopen();
      return;
    }
    const s: Session = { seq: ++this.sessionSeq, client, connected: false, ended: false, armed: new Set(), running: new Map(), retries: new Map() };
    this.session = s;
    client.on('connect', () => this.isCurrent(s) && this.onConnected(s));
    client.on('connecting', () => this.isCurrent(s) && this.onDisconnected(s));
    client.on('close', (code, lost) => this.isCurrent(s) && this.onSessionEnded(s, code, lost));
    if (this.options.auth) {
      // Queued by the client and sent first on (re)connect, as the original's AddAuth.
      client.addAuth('digest', `${this.options.auth.user}:${this.options.auth.password}`).catch((err: unknown) => {
        if (this.isCurrent(s)) this.log?.warn({ err }, 'zookeeper addAuth failed');
      });
    }
    this.log?.info({ hosts: this.hosts, session: s.seq }, 'zookeeper client created');
  }

  private isCurrent(s: Session): boolean {
    return !s.ended && this.session === s && !this.stopped;
  }

  private endSession(s: Session, close: boolean): void {
    s.ended = true;
    s.connected = false;
    for (const r of s.retries.values()) if (r.timer !== undefined) this.clock.clearTimeout(r.timer);
    s.retries.clear();
    if (close) {
      try {
        s.client.close();
      } catch {
        /* already closed */
      }
    }
  }

  private onConnected(s: Session): void {
    s.connected = true;
    this.failedSessions = 0;
    this.log?.info({ session: s.seq, sessionId: s.client.sessionId, timeoutMs: s.client.sessionTimeoutMs }, 'zookeeper connected');
    this.emit('connect');
    void this.resync(s);
  }

  /** Re-lists everything this session watches (arming what is not armed yet), then marks the cache fresh. */
  private async resync(s: Session): Promise<void> {
    const work: Promise<void>[] = this.modules.map((module) => this.refresh(s, { kind: 'module', module }));
    for (const [module, ids] of this.clusters) for (const clusterId of ids) work.push(this.refresh(s, { kind: 'cluster', module, clusterId }));
    if (this.options.register) work.push(this.refresh(s, { kind: 'self' }));
    await Promise.all(work);
    if (!this.isCurrent(s) || !s.connected) return;
    this.synced = true;
    this.lastSyncAt = this.clock.now();
    this.disconnectedSince = undefined;
    this.clearTimer('staleTimer');
    if (this.stale) this.log?.info('zookeeper discovery fresh again');
    this.stale = false;
    this.emit('synced');
  }

  private onDisconnected(s: Session): void {
    const was = s.connected;
    s.connected = false;
    this.markDisconnected(s.client.sessionTimeoutMs);
    if (was) {
      this.log?.warn({ session: s.seq }, 'zookeeper connection lost; serving the cache');
      this.emit('disconnect');
    }
  }

  /** Curator's LOST timer: a session timeout without a connection makes the entries stale. */
  private markDisconnected(timeoutMs: number): void {
    this.synced = false;
    this.disconnectedSince ??= this.clock.now();
    if (this.stale || this.staleTimer !== undefined || this.lastSyncAt === undefined) return;
    this.staleTimer = this.clock.setTimeout(() => {
      this.staleTimer = undefined;
      if (this.stopped || (this.session?.connected && this.synced)) return;
      this.stale = true;
      this.ordered.clear();
      this.log?.warn({ timeoutMs }, 'zookeeper unreachable for a session timeout: discovered drivers are stale');
      this.emit('stale');
    }, timeoutMs);
  }

  private onSessionEnded(s: Session, code: number, lost?: ZkSession): void {
    const timeoutMs = s.client.sessionTimeoutMs;
    const wasConnected = s.connected;
    this.endSession(s, false);
    this.session = undefined;
    this.markDisconnected(timeoutMs);
    if (code === ZK_CLOSE.LINK_LOST && lost) {
      // The handle is gone but the session may not be: a new client resumes it (its own node with it),
      // and re-arms every watch as after any new client. If the server has let it expire meanwhile,
      // that client closes as expired and the usual path follows.
      this.log?.warn({ session: s.seq }, 'zookeeper link broke under a call; resuming the session on a new client');
      if (wasConnected) this.emit('disconnect');
      this.openSession(lost);
      return;
    }
    const reason = code === ZK_CLOSE.SESSION_EXPIRED ? 'expired' : code === ZK_CLOSE.AUTH_FAILED ? 'auth failed' : `closed (${code})`;
    this.log?.warn({ session: s.seq, code }, `zookeeper session ${reason}; creating a new client`);
    if (wasConnected) this.emit('disconnect');
    this.emit('expired', code);
    this.failedSessions += 1;
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.stopped) return;
    const delay = this.failedSessions <= 1 ? 0 : this.backoff(this.failedSessions - 2);
    this.clearTimer('reopenTimer');
    this.reopenTimer = this.clock.setTimeout(() => {
      this.reopenTimer = undefined;
      this.openSession();
    }, delay);
  }

  private backoff(attempt: number): number {
    return Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(attempt, 20));
  }

  private clearTimer(name: 'staleTimer' | 'reopenTimer'): void {
    if (this[name] !== undefined) this.clock.clearTimeout(this[name]);
    this[name] = undefined;
  }

  // ---- refreshes: the one place watches are armed ---------------------------------------------------

  /**
   * Runs the refresh of `t` on session `s`, coalescing: if one is already running, it runs once more
   * after it and the caller waits for that pass.
   */
  private refresh(s: Session, t: Target): Promise<void> {
    const key = targetKey(t);
    const running = s.running.get(key);
    if (running) {
      running.dirty = true;
      return running.done;
    }
    const state = { dirty: false, done: Promise.resolve() };
    s.running.set(key, state);
    state.done = (async () => {
      try {
        do {
          state.dirty = false;
          if (!this.isCurrent(s)) return;
          try {
            await this.run(s, t);
            this.clearRetry(s, key);
          } catch (err) {
            this.onRefreshError(s, t, err);
            return;
          }
        } while (state.dirty);
      } finally {
        s.running.delete(key);
      }
    })();
    return state.done;
  }

  /**
   * The watcher for a read of `t`, or undefined when this session already has one armed for it (watches
   * are one-shot: firing disarms it, and the refresh it triggers arms the next one).
   */
  private watcher(s: Session, t: Target, armKey: string): ZkWatcher | undefined {
    if (s.armed.has(armKey)) return undefined;
    s.armed.add(armKey);
    return (event) => {
      // Session events (type -1: connection state changes, or "the session expired") leave the watch
      // registered, and say nothing about the node; connection handling re-lists anyway.
      if (event.type === ZK_EVENT.SESSION) return;
      s.armed.delete(armKey);
      if (this.isCurrent(s)) void this.refresh(s, t);
    };
  }

  /** Reads with a watch; if the read fails the watch was not registered, so it is disarmed. */
  private async watched<T>(s: Session, t: Target, read: (w: ZkWatcher | undefined) => Promise<T>, armKey = targetKey(t)): Promise<T> {
    const w = this.watcher(s, t, armKey);
    try {
      return await read(w);
    } catch (err) {
      if (w) s.armed.delete(armKey);
      throw err;
    }
  }

  private onRefreshError(s: Session, t: Target, err: unknown): void {
    if (!this.isCurrent(s)) return;
    // Connection trouble: the next `connect` re-lists everything (a new session re-arms everything).
    if (isConnectionError(err) && !s.connected) return;
    const key = targetKey(t);
    const retry = s.retries.get(key) ?? { attempt: 0 };
    const delay = this.backoff(retry.attempt);
    retry.attempt += 1;
    if (retry.timer !== undefined) this.clock.clearTimeout(retry.timer);
    retry.timer = this.clock.setTimeout(() => {
      retry.timer = undefined;
      if (this.isCurrent(s)) void this.refresh(s, t);
    }, delay);
    s.retries.set(key, retry);
    this.log?.warn({ err, target: key, delayMs: delay }, 'zookeeper discovery read failed; retrying');
  }

  private clearRetry(s: Session, key: string): void {
    const r = s.retries.get(key);
    if (!r) return;
    if (r.timer !== undefined) this.clock.clearTimeout(r.timer);
    s.retries.delete(key);
  }

  private run(s: Session, t: Target): Promise<void> {
    switch (t.kind) {
      case 'module':
        return this.refreshModule(s, t.module);
      case 'cluster':
        return this.refreshCluster(s, t.module, t.clusterId);
      case 'node':
        return this.refreshNode(s, t.module, t.clusterId, t.node);
      case 'self':
        return this.refreshSelf(s);
    }
  }

  /** `<base>/<module>` lists cluster ids: start watching new ones, drop the ones that went away. */
  private async refreshModule(s: Session, module: DriverModule): Promise<void> {
    const t: Target = { kind: 'module', module };
    const path = `${this.base}/${module}`;
    let ids: string[];
    try {
      ids = await this.watched(s, t, (w) => s.client.getChildren(path, w));
    } catch (err) {
      if (!isNoNode(err)) throw err;
      // No directory yet: nothing to route to; look again with backoff (the original: every 5 s).
      if (this.isCurrent(s)) this.setClusters(module, []);
      throw err;
    }
    if (!this.isCurrent(s)) return;
    const added = this.setClusters(module, ids);
    const armedMissing = ids.filter((id) => !s.armed.has(targetKey({ kind: 'cluster', module, clusterId: id })));
    await Promise.all([...new Set([...added, ...armedMissing])].map((clusterId) => this.refresh(s, { kind: 'cluster', module, clusterId })));
  }

  /** Returns the ids that are new. */
  private setClusters(module: DriverModule, ids: string[]): string[] {
    const known = this.clusters.get(module)!;
    const next = new Set(ids);
    const added = ids.filter((id) => !known.has(id));
    for (const id of [...known]) {
      if (next.has(id)) continue;
      known.delete(id);
      this.listings.delete(clusterKey(module, id));
      for (const name of [...(this.cache.get(clusterKey(module, id))?.keys() ?? [])]) this.remove(module, id, name);
    }
    for (const id of added) known.add(id);
    return added;
  }

  /** `<base>/<module>/<cluster>` lists driver nodes: read new ones, drop the ones that went away. */
  private async refreshCluster(s: Session, module: DriverModule, clusterId: string): Promise<void> {
    if (!this.clusters.get(module)?.has(clusterId)) return;
    const key = clusterKey(module, clusterId);
    const path = `${this.base}/${module}/${clusterId}`;
    let names: string[];
    try {
      names = orderBySequence(await this.watched(s, { kind: 'cluster', module, clusterId }, (w) => s.client.getChildren(path, w)));
    } catch (err) {
      if (!isNoNode(err)) throw err;
      names = []; // the module watch drops the cluster
    }
    if (!this.isCurrent(s) || !this.clusters.get(module)?.has(clusterId)) return;
    const next = new Set(names);
    const previous = this.listings.get(key) ?? new Set<string>();
    this.listings.set(key, next);
    for (const name of previous) if (!next.has(name)) this.remove(module, clusterId, name);
    for (const name of [...(this.cache.get(key)?.keys() ?? [])]) if (!next.has(name)) this.remove(module, clusterId, name);
    const toRead = names.filter((n) => !previous.has(n) || !this.cache.get(key)?.has(n) || !s.armed.has(targetKey({ kind: 'node', module, clusterId, node: n })));
    await Promise.all(toRead.map((node) => this.refresh(s, { kind: 'node', module, clusterId, node })));
  }

  /** One driver's ServerInfo (data watch: an update is seen without a re-list). */
  private async refreshNode(s: Session, module: DriverModule, clusterId: string, node: string): Promise<void> {
    const key = clusterKey(module, clusterId);
    if (!this.listings.get(key)?.has(node)) return;
    const path = `${this.base}/${module}/${clusterId}/${node}`;
    let data: Buffer;
    try {
      data = await this.watched(s, { kind: 'node', module, clusterId, node }, (w) => s.client.getData(path, w));
    } catch (err) {
      if (!isNoNode(err)) throw err;
      if (this.isCurrent(s)) this.remove(module, clusterId, node);
      return;
    }
    if (!this.isCurrent(s) || !this.listings.get(key)?.has(node)) return;
    const info = parseServerInfo(data);
    if (!info) {
      this.log?.warn({ path }, 'ignoring a driver node whose data is not ServerInfo JSON with ip and port');
      this.remove(module, clusterId, node);
      return;
    }
    this.put({ module, clusterId, node, path, info });
  }

  /** This gateway's own ephemeral node: created when missing (after expiry, or deleted by someone). */
  private async refreshSelf(s: Session): Promise<void> {
    const reg = this.options.register;
    if (!reg) return;
    if (s.ownPath) {
      const path = s.ownPath;
      if (await this.watched(s, { kind: 'self' }, (w) => s.client.exists(path, w), `self:${path}`)) return;
      if (!this.isCurrent(s)) return;
      this.log?.warn({ path }, 'own apiserver node was deleted; registering again');
      s.ownPath = undefined;
    }
    const info: SelfRegistration = { ...reg, pid: reg.pid ?? process.pid };
    const path = await createProtectedEphemeralSequential(s.client, `${this.base}/apiserver`, reg.ip, JSON.stringify(info), { guid: this.guid, acl: this.acl });
    if (!this.isCurrent(s)) return;
    s.ownPath = path;
    this.log?.info({ path }, 'registered this gateway in zookeeper');
    this.emit('registered', path);
    // Watch it; `exists` on a node deleted meanwhile still arms the watch and returns false.
    if (!(await this.watched(s, { kind: 'self' }, (w) => s.client.exists(path, w), `self:${path}`)) && this.isCurrent(s)) {
      s.ownPath = undefined;
      throw new Error(`own node ${path} vanished right after creation`);
    }
  }

  // ---- cache -----------------------------------------------------------------------------------------

  private put(server: DiscoveredServer): void {
    const key = clusterKey(server.module, server.clusterId);
    let entries = this.cache.get(key);
    if (!entries) this.cache.set(key, (entries = new Map()));
    const previous = entries.get(server.node);
    if (previous && JSON.stringify(previous.info) === JSON.stringify(server.info)) return;
    entries.set(server.node, server);
    this.ordered.delete(key);
    if (previous) this.emit('update', server, previous);
    else this.emit('add', server);
  }

  private remove(module: DriverModule, clusterId: string, node: string): void {
    const key = clusterKey(module, clusterId);
    const entries = this.cache.get(key);
    const previous = entries?.get(node);
    if (!entries || !previous) return;
    entries.delete(node);
    if (!entries.size) this.cache.delete(key);
    this.ordered.delete(key);
    this.emit('delete', previous);
  }
}
