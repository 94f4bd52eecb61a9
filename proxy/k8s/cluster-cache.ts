import { findClustersByIdOrIdentifier } from '../../src/domain/clusters';
import { findCredential, openCredential } from '../../src/domain/credentials';
import type { Runtime } from '../../src/runtime';
import { agentTerminatedDial } from '../../src/tunnel/routes';
import { SingleFlight } from '../shared/single-flight';
import { ClusterUpstream, type UpstreamOptions } from './upstream';
import type { TunnelRoutes } from '../tunnel/routes';

export interface ResolvedCluster {
  id: string;
  identifier: string;
  /** Absent when the cluster's agent has not reported credentials yet. */
  upstream?: ClusterUpstream;
}

const DEFAULT_CACHE_AGES = { maxAgeMs: 10 * 60_000, negativeMs: 5_000 };

/**
 * A key that names more than one cluster (rows that collided before ids and identifiers shared one
 * namespace): refused, never routed to whichever row the database returns first.
 */
export interface AmbiguousKey {
  ambiguous: readonly string[];
}

interface Entry {
  result?: ResolvedCluster | AmbiguousKey;
  /** Lower-cased ids and identifiers of the clusters found, so a change to any of them drops the entry. */
  names: readonly string[];
  /** Unknown and ambiguous keys expire soon; resolved clusters late. */
  expiresAt: number;
}

/**
 * Cluster id or identifier (without regard to case) → cluster and its upstream pool, in memory. A
 * credential report or a cluster change (from the change feed) drops the entry, so the next request
 * loads the new credential; the old pool is retired without cutting requests still streaming through it.
 * Unknown and ambiguous keys are remembered only briefly: an operator may fix a collision in the database.
 */
export class ClusterCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new SingleFlight<Entry>();
  /** One pool per cluster, shared by its id and identifier keys. */
  private readonly upstreams = new Map<string, ClusterUpstream>();
  /** Bumped by every invalidation: a load that raced one is used once but not cached (it may predate a tunnel or a report). */
  private generation = 0;

  constructor(
    private readonly rt: Runtime,
    private readonly upstreamOptions: UpstreamOptions,
    private readonly opts = DEFAULT_CACHE_AGES,
    private readonly tunnels?: TunnelRoutes,
  ) {}

  /** Synchronous when cached (steady state); a miss or an aged entry loads from the store. */
  resolve(key: string): ResolvedCluster | AmbiguousKey | undefined | Promise<ResolvedCluster | AmbiguousKey | undefined> {
    const entry = this.entries.get(key);
    if (!entry || Date.now() > entry.expiresAt) return this.load(key).then((e) => e.result);
    return entry.result;
  }

  private load(key: string): Promise<Entry> {
    return this.loads.run(key, () => this.fetch(key));
  }

  private async fetch(key: string): Promise<Entry> {
    const generation = this.generation;
    const ctx = this.rt.context();
    const found = await findClustersByIdOrIdentifier(ctx, key);
    const names = found.flatMap((c) => [c.id.toLowerCase(), c.identifier.toLowerCase()]);
    const briefly = Date.now() + this.opts.negativeMs;
    let entry: Entry;
    const cluster = found[0];
    if (!cluster) entry = { names, expiresAt: briefly };
    else if (found.length > 1) entry = { result: { ambiguous: found.map((c) => c.id) }, names, expiresAt: briefly };
    else {
      // A live agent tunnel wins over a reported address the gateway could also dial.
      const tunnel = await this.tunnels?.route(cluster.id);
      const cred = tunnel ? undefined : await findCredential(ctx, cluster.id);
      const secrets = tunnel?.secrets ?? (cred ? openCredential(ctx, cred) : undefined);
      let upstream: ClusterUpstream | undefined;
      if (secrets) {
        const current = this.upstreams.get(cluster.id);
        // Plaintext through the agent only with the credential that agent brought (see agentTerminatedDial).
        const plainDial = tunnel ? agentTerminatedDial(tunnel, secrets) : undefined;
        const via = tunnel ? `${tunnel.via ?? 'tunnel'}${plainDial ? ' agent-tls' : ''}` : 'direct';
        if (current && current.fingerprint === ClusterUpstream.fingerprintOf(secrets, via)) upstream = current;
        else {
          current?.retire();
          upstream = new ClusterUpstream(secrets, tunnel ? { ...this.upstreamOptions, dial: tunnel.dial, plainDial, via } : this.upstreamOptions);
          this.upstreams.set(cluster.id, upstream);
        }
      }
      entry = { result: { id: cluster.id, identifier: cluster.identifier, upstream }, names, expiresAt: Date.now() + this.opts.maxAgeMs };
    }
    if (generation === this.generation) this.entries.set(key, entry);
    return entry;
  }

  /** Forgets everything cached about a cluster (by id or identifier, without regard to case). */
  invalidate(key: string): void {
    this.generation += 1;
    const name = key.toLowerCase();
    for (const [k, e] of this.entries) {
      if (k.toLowerCase() === name || e.names.includes(name)) this.entries.delete(k);
    }
  }

  /**
   * A deleted cluster's pool goes at once: nothing may reach it any more. Cluster changes are also
   * announced on creation, and this process hears each of its own changes twice (bus, then change
   * feed), so the pool is destroyed only when the cluster is really gone; otherwise requests streaming
   * through it (a first watch on a just-registered cluster) would be cut.
   */
  dropUpstream(clusterId: string): void {
    const upstream = this.upstreams.get(clusterId);
    if (!upstream) return;
    void findClustersByIdOrIdentifier(this.rt.context(), clusterId)
      .catch(() => [])
      .then((found) => {
        if (found.some((c) => c.id === clusterId) || this.upstreams.get(clusterId) !== upstream) return;
        upstream.destroy();
        this.upstreams.delete(clusterId);
      });
  }

  /**
   * A tunnel of the cluster connected or went away: the next request resolves it again. When the last
   * tunnel is gone its pool goes at once (its connections ran through the tunnel and are dead).
   */
  tunnelChanged(clusterId: string, connected: boolean): void {
    this.invalidate(clusterId);
    const upstream = this.upstreams.get(clusterId);
    if (!connected && upstream?.viaTunnel) {
      upstream.destroy();
      this.upstreams.delete(clusterId);
    }
  }

  close(): void {
    for (const u of this.upstreams.values()) u.destroy();
    this.upstreams.clear();
    this.entries.clear();
  }
}
