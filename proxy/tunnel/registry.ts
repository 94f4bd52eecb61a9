import { PassThrough, type Duplex } from 'node:stream';
import type { TunnelSession } from './session';

/** How a cluster is reached right now, for operators (GraphQL) and tests. */
export interface TunnelState {
  connected: boolean;
  /** Agent tunnels of the cluster open in this process. */
  sessions: number;
  /** When the newest one connected. */
  since?: Date;
  agentAddress?: string;
  /** `https://host:port` the agent dials for the gateway. */
  apiserverAddress?: string;
}

/** Read side of the registry, small enough to put on the Runtime for the API. */
export interface TunnelStatus {
  stateOf(clusterId: string): TunnelState;
}

/** The token and CA an agent brought in its handshake. */
export interface AgentCredential {
  userToken: string;
  caCertPem: string;
}

type Listener = (clusterId: string, connected: boolean) => void;

/**
 * Live agent tunnels by cluster id. Several agents (replicas) of one cluster may be connected; the
 * newest one is used, and the cluster is reached through a tunnel as long as any of them is open.
 */
export class TunnelRegistry implements TunnelStatus {
  private readonly byCluster = new Map<string, TunnelSession[]>();
  private readonly listeners: Listener[] = [];

  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  add(session: TunnelSession): void {
    const list = this.byCluster.get(session.clusterId) ?? [];
    list.push(session);
    this.byCluster.set(session.clusterId, list);
    for (const l of this.listeners) l(session.clusterId, true);
  }

  /** Returns true when it was the cluster's last tunnel. */
  remove(session: TunnelSession): boolean {
    const list = this.byCluster.get(session.clusterId);
    const i = list?.indexOf(session) ?? -1;
    if (!list || i < 0) return !this.newest(session.clusterId);
    list.splice(i, 1);
    if (!list.length) this.byCluster.delete(session.clusterId);
    const last = !list.length;
    for (const l of this.listeners) l(session.clusterId, !last);
    return last;
  }

  newest(clusterId: string): TunnelSession | undefined {
    const list = this.byCluster.get(clusterId);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i -= 1) if (list[i]!.isOpen) return list[i];
    return undefined;
  }

  /** The newest open tunnel whose agent ends TLS itself and brought this token and CA. */
  private newestHolding(clusterId: string, cred: AgentCredential): TunnelSession | undefined {
    const list = this.byCluster.get(clusterId) ?? [];
    for (let i = list.length - 1; i >= 0; i -= 1) {
      const { isOpen, params } = list[i]!;
      if (isOpen && params.agentTls && params.userToken === cred.userToken && params.caCertPem === cred.caCertPem) return list[i];
    }
    return undefined;
  }

  sessionsOf(clusterId: string): readonly TunnelSession[] {
    return this.byCluster.get(clusterId) ?? [];
  }

  all(): TunnelSession[] {
    return [...this.byCluster.values()].flat();
  }

  /**
   * A connection to the cluster's apiserver through its newest tunnel. Never throws: without a tunnel
   * the stream fails on the next tick, as a refused TCP dial would. With `agentTls`, the connection
   * carries plaintext (the agent ends the apiserver's TLS), and only through a tunnel whose agent
   * announced that and brought exactly this token and CA: the plaintext then shows it nothing it lacks.
   */
  dial(clusterId: string, hostPort: string, timeoutMs: number, agentTls?: AgentCredential): Duplex {
    const session = agentTls ? this.newestHolding(clusterId, agentTls) : this.newest(clusterId);
    try {
      if (!session) throw Object.assign(new Error(`tunnel: cluster ${clusterId} has no ${agentTls ? 'agent tunnel ending TLS with this credential' : 'agent tunnel'} connected`), { code: 'ECONNRESET' });
      return session.dial(hostPort, timeoutMs, agentTls !== undefined);
    } catch (err) {
      const failed = new PassThrough();
      process.nextTick(() => failed.destroy(err as Error));
      return failed;
    }
  }

  stateOf(clusterId: string): TunnelState {
    const newest = this.newest(clusterId);
    if (!newest) return { connected: false, sessions: 0 };
    return {
      connected: true,
      sessions: this.sessionsOf(clusterId).filter((s) => s.isOpen).length,
      since: newest.connectedAt,
      agentAddress: newest.agentAddress,
      apiserverAddress: newest.params.address,
    };
  }
}
