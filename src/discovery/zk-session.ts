/**
 * The ZooKeeper session side of discovery (Curator's SUSPENDED/LOST, conventions-and-faults §0 finding 9
 * and B1): one handle at a time, and what happens when its link or its session goes.
 * - link lost (`connecting`): the cache is kept; after one session timeout without a connection the
 *   entries are stale (`stale()` true) until the next full sync;
 * - re-connected within the session: the C client re-registers its watches; the owner re-lists anyway;
 * - link broken under a call (`close` with LINK_LOST; see zk-client): a new client resumes the session;
 * - session expired (`close`; the handle is dead): a new client, with backoff after repeated failures.
 * Every (re)connect hands the session to `onConnected`, which re-lists and then calls `synchronised`.
 */
import type { Logger } from '../log';
import type { Clock, DiscoveryEmit } from './service';
import { ZK_CLOSE, type ZkClient, type ZkClientFactory, type ZkSession } from './zk-client';

/** Everything tied to one ZooKeeper handle; dropped as a whole when the session ends. */
export interface Session {
  readonly seq: number;
  readonly client: ZkClient;
  connected: boolean;
  ended: boolean;
  /** Watches armed on this session (target keys): at most one per target. */
  readonly armed: Set<string>;
  /** Refreshes running; `dirty` asks for one more pass when the current one ends. */
  readonly running: Map<string, { dirty: boolean; done: Promise<void> }>;
  readonly retries: Map<string, { attempt: number; timer?: unknown }>;
  ownPath?: string;
}

export interface SessionKeeperOptions {
  hosts: string;
  requestedTimeoutMs: number;
  factory: ZkClientFactory;
  clock: Clock;
  auth?: { user: string; password: string };
  nativeLogLevel?: number;
  backoff: (attempt: number) => number;
  log?: Logger;
  emit: DiscoveryEmit;
  onConnected: (s: Session) => void;
}

export class SessionKeeper {
  current?: Session;
  sessions = 0;
  lastSyncAt?: number;
  disconnectedSince?: number;
  private stopped = false;
  private synced = false;
  private isStale = false;
  private staleTimer?: unknown;
  private reopenTimer?: unknown;
  private failedSessions = 0;

  constructor(private readonly o: SessionKeeperOptions) {}

  isCurrent(s: Session): boolean {
    return !s.ended && this.current === s && !this.stopped;
  }

  stale(): boolean {
    return this.isStale || this.stopped;
  }

  state(): 'stale' | 'connected' | 'connecting' {
    if (this.isStale) return 'stale';
    return this.current?.connected && this.synced ? 'connected' : 'connecting';
  }

  open(resume?: ZkSession): void {
    if (this.stopped) return;
    let client: ZkClient;
    try {
      client = this.o.factory({ connect: this.o.hosts, sessionTimeoutMs: this.o.requestedTimeoutMs, logLevel: this.o.nativeLogLevel, session: resume });
    } catch (err) {
      this.o.log?.error({ err }, 'cannot create a zookeeper client; retrying');
      this.scheduleReopen();
      return;
    }
    const s: Session = { seq: ++this.sessions, client, connected: false, ended: false, armed: new Set(), running: new Map(), retries: new Map() };
    this.current = s;
    client.on('connect', () => this.isCurrent(s) && this.onConnected(s));
    client.on('connecting', () => this.isCurrent(s) && this.onDisconnected(s));
    client.on('close', (code, lost) => this.isCurrent(s) && this.onSessionEnded(s, code, lost));
    if (this.o.auth) {
      // Queued by the client and sent first on (re)connect, as the original's AddAuth.
      client.addAuth('digest', `${this.o.auth.user}:${this.o.auth.password}`).catch((err: unknown) => {
        if (this.isCurrent(s)) this.o.log?.warn({ err }, 'zookeeper addAuth failed');
      });
    }
    this.o.log?.info({ hosts: this.o.hosts, session: s.seq }, 'zookeeper client created');
  }

  /** Called once a re-list of everything on `s` finished: the cache matches ZooKeeper again. */
  synchronised(s: Session): void {
    if (!this.isCurrent(s) || !s.connected) return;
    this.synced = true;
    this.lastSyncAt = this.o.clock.now();
    this.disconnectedSince = undefined;
    this.clearTimer('staleTimer');
    if (this.isStale) this.o.log?.info('zookeeper discovery fresh again');
    this.isStale = false;
    this.o.emit('synced');
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.synced = false;
    this.clearTimer('staleTimer');
    this.clearTimer('reopenTimer');
    const s = this.current;
    this.current = undefined;
    if (s) this.end(s, true);
  }

  private end(s: Session, close: boolean): void {
    s.ended = true;
    s.connected = false;
    for (const r of s.retries.values()) if (r.timer !== undefined) this.o.clock.clearTimeout(r.timer);
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
    this.o.log?.info({ session: s.seq, sessionId: s.client.sessionId, timeoutMs: s.client.sessionTimeoutMs }, 'zookeeper connected');
    this.o.emit('connect');
    this.o.onConnected(s);
  }

  private onDisconnected(s: Session): void {
    const was = s.connected;
    s.connected = false;
    this.markDisconnected(s.client.sessionTimeoutMs);
    if (was) {
      this.o.log?.warn({ session: s.seq }, 'zookeeper connection lost; serving the cache');
      this.o.emit('disconnect');
    }
  }

  /** Curator's LOST timer: a session timeout without a connection makes the entries stale. */
  private markDisconnected(timeoutMs: number): void {
    this.synced = false;
    this.disconnectedSince ??= this.o.clock.now();
    if (this.isStale || this.staleTimer !== undefined || this.lastSyncAt === undefined) return;
    this.staleTimer = this.o.clock.setTimeout(() => {
      this.staleTimer = undefined;
      if (this.stopped || (this.current?.connected && this.synced)) return;
      this.isStale = true;
      this.o.log?.warn({ timeoutMs }, 'zookeeper unreachable for a session timeout: discovered servers are stale');
      this.o.emit('stale');
    }, timeoutMs);
  }

  private onSessionEnded(s: Session, code: number, lost?: ZkSession): void {
    const timeoutMs = s.client.sessionTimeoutMs;
    const wasConnected = s.connected;
    this.end(s, false);
    this.current = undefined;
    this.markDisconnected(timeoutMs);
    if (code === ZK_CLOSE.LINK_LOST && lost) {
      // The handle is gone but the session may not be: a new client resumes it (its own node with it),
      // and re-arms every watch as after any new client. If the server has let it expire meanwhile,
      // that client closes as expired and the usual path follows.
      this.o.log?.warn({ session: s.seq }, 'zookeeper link broke under a call; resuming the session on a new client');
      if (wasConnected) this.o.emit('disconnect');
      this.open(lost);
      return;
    }
    const reason = code === ZK_CLOSE.SESSION_EXPIRED ? 'expired' : code === ZK_CLOSE.AUTH_FAILED ? 'auth failed' : `closed (${code})`;
    this.o.log?.warn({ session: s.seq, code }, `zookeeper session ${reason}; creating a new client`);
    if (wasConnected) this.o.emit('disconnect');
    this.o.emit('expired', code);
    this.failedSessions += 1;
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.stopped) return;
    const delay = this.failedSessions <= 1 ? 0 : this.o.backoff(this.failedSessions - 2);
    this.clearTimer('reopenTimer');
    this.reopenTimer = this.o.clock.setTimeout(() => {
      this.reopenTimer = undefined;
      this.open();
    }, delay);
  }

  private clearTimer(name: 'staleTimer' | 'reopenTimer'): void {
    if (this[name] !== undefined) this.o.clock.clearTimeout(this[name]);
    this[name] = undefined;
  }
}
