/**
 * The public shapes of ZooKeeper discovery: options, what it caches, its health and events, and the
 * service interface the composition root, the passthroughs and /readyz depend on.
 */
import type { Logger } from '../log';
import type { DiscoveryState, DiscoveryModule, DriverDiscovery, DriverModule, ServerInfo, ServiceDiscovery, ServiceModule } from './types';
import type { ZkClientFactory } from './zk-client';

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
  /** Per-cluster modules watched (default both drivers). */
  modules?: readonly DriverModule[];
  /** Flat modules watched (default the five the `/bcsapi/v4` passthroughs use). */
  services?: readonly ServiceModule[];
  clientFactory?: ZkClientFactory;
  clock?: Clock;
  /** Backoff for a missing base path and failed reads: initial delay doubling up to max (ms). */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Watch (and allow publishing) the replicas holding each cluster's tunnels (peering on). */
  holders?: boolean;
  /** Where they are published; default `/bcs/services/bcs-api/tunnels`. */
  holdersPath?: string;
  /** The C client's own log level (0 off … 4 debug); default 1 (errors). */
  nativeLogLevel?: number;
  logger?: Logger;
}

/** One discovered server node. */
export interface DiscoveredServer {
  module: DiscoveryModule;
  /** The cluster directory a driver registered under; undefined for flat modules. */
  clusterId?: string;
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
  /** Live servers per flat module (storage, netservice, …) with at least one. */
  services?: Partial<Record<ServiceModule, number>>;
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

export type DiscoveryEmit = <E extends keyof DiscoveryEvents>(event: E, ...args: DiscoveryEvents[E]) => void;

/** What the passthroughs and /readyz use; both implementations satisfy it. */
export interface DiscoveryService extends DriverDiscovery, ServiceDiscovery {
  start(): void;
  stop(): Promise<void>;
  health(): DiscoveryHealth;
  list(): DiscoveredServer[];
  on<E extends keyof DiscoveryEvents>(event: E, listener: (...args: DiscoveryEvents[E]) => void): this;
  off<E extends keyof DiscoveryEvents>(event: E, listener: (...args: DiscoveryEvents[E]) => void): this;
}
