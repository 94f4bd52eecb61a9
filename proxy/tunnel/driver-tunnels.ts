import type http from 'node:http';
import type https from 'node:https';
import { PassThrough, type Duplex } from 'node:stream';
import { DialledHttpAgent, DialledHttpsAgent } from '../../src/tunnel/dialled-agents';
import type { DriverModuleName } from './handshake';
import type { DriverParams, TunnelSession } from './session';

export type DriverSession = TunnelSession<DriverParams>;

/** Where the driver passthrough finds drivers behind tunnels (this process's, and peers' when peering is on). */
export interface DriverRoutes {
  live(module: DriverModuleName, clusterId: string): Pick<DriverTunnel, 'base' | 'agent'>[];
}

/** One driver replica reached through its tunnel: where to send requests, and the agent that dials it. */
export interface DriverTunnel {
  /** `http(s)://host:port` the driver reported. */
  base: string;
  agent: http.Agent;
  session: DriverSession;
}

interface Entry extends DriverTunnel {
  key: string;
}

/** Idle keep-alive connections through a driver's tunnel close after this, so virtual connections return to zero. */
const IDLE_MS = 30_000;

const clusterKey = (module: DriverModuleName, clusterId: string): string => `${module}/${clusterId.toLowerCase()}`;

/**
 * Live Mesos and k8s driver tunnels, by module and cluster. Several replicas of a cluster's driver each
 * hold a session, told apart by the address they report (the original's `<cluster id>-<host:port>` client
 * key); a replica that reconnects before its dead session is noticed replaces it (newest wins). Each
 * session gets its own keep-alive agent whose every connection is a virtual connection to the reported
 * address, TLS-verified with `tls` (the options https drivers found in ZooKeeper get) when it is https.
 */
export class DriverTunnels {
  private readonly byCluster = new Map<string, Entry[]>();
  private readonly entries = new Map<DriverSession, Entry>();
  private readonly listeners: ((module: DriverModuleName, clusterId: string) => void)[] = [];

  constructor(
    private readonly tls: https.AgentOptions,
    private readonly connectTimeoutMs: number,
  ) {}

  /** Told each time a driver tunnel of a cluster connects or goes (peering publishes the holders). */
  onChange(listener: (module: DriverModuleName, clusterId: string) => void): void {
    this.listeners.push(listener);
  }

  add(module: DriverModuleName, session: DriverSession): void {
    const key = clusterKey(module, session.clusterId);
    const { address, hostPort } = session.params;
    const dial = (): Duplex => {
      try {
        return session.dial(hostPort, this.connectTimeoutMs);
      } catch (err) {
        // Closed or full: the request fails as a refused TCP dial would, on the next tick.
        const failed = new PassThrough();
        process.nextTick(() => failed.destroy(err as Error));
        return failed;
      }
    };
    const opts = { keepAlive: true, maxSockets: 64, timeout: IDLE_MS };
    const agent = address.startsWith('https:') ? new DialledHttpsAgent(dial, { ...this.tls, ...opts }) : new DialledHttpAgent(dial, opts);
    const entry: Entry = { key, base: address, agent, session };
    const list = this.byCluster.get(key) ?? [];
    list.push(entry);
    this.byCluster.set(key, list);
    this.entries.set(session, entry);
    for (const l of this.listeners) l(module, session.clusterId);
  }

  remove(session: DriverSession): void {
    const entry = this.entries.get(session);
    if (!entry) return;
    this.entries.delete(session);
    entry.agent.destroy();
    const list = (this.byCluster.get(entry.key) ?? []).filter((e) => e !== entry);
    if (list.length) this.byCluster.set(entry.key, list);
    else this.byCluster.delete(entry.key);
    for (const l of this.listeners) l(entry.key.slice(0, entry.key.indexOf('/')) as DriverModuleName, session.clusterId);
  }

  /** Open sessions of a cluster's driver (all replicas), for the per-cluster cap. */
  sessionsOf(module: DriverModuleName, clusterId: string): DriverSession[] {
    return (this.byCluster.get(clusterKey(module, clusterId)) ?? []).filter((e) => e.session.isOpen).map((e) => e.session);
  }

  /** The cluster's live driver replicas: the newest open session for each address reported. */
  live(module: DriverModuleName, clusterId: string): DriverTunnel[] {
    const newest = new Map<string, Entry>();
    for (const e of this.byCluster.get(clusterKey(module, clusterId)) ?? []) if (e.session.isOpen) newest.set(e.session.params.hostPort, e);
    return [...newest.values()];
  }

  /** Driver sessions of any module for a cluster (register-token changes close them). */
  ofCluster(clusterId: string): DriverSession[] {
    return [...this.entries.keys()].filter((s) => s.clusterId === clusterId);
  }

  all(): DriverSession[] {
    return [...this.entries.keys()];
  }
}
