import { findClusterByIdOrIdentifier } from '../../src/domain/clusters';
import { findCredential, openCredential } from '../../src/domain/credentials';
import type { Runtime } from '../../src/runtime';
import { SingleFlight } from '../shared/single-flight';
import { ClusterUpstream, type UpstreamOptions } from './upstream';

export interface ResolvedCluster {
  id: string;
  identifier: string;
  /** Absent when the cluster's agent has not reported credentials yet. */
  upstream?: ClusterUpstream;
}

interface Entry {
  cluster?: ResolvedCluster;
  loadedAt: number;
}

/**
 * Cluster id or identifier → cluster and its upstream pool, in memory. A credential report or a cluster
 * change (from the change feed) drops the entry, so the next request loads the new credential; the old
 * pool is retired without cutting requests still streaming through it.
 */
export class ClusterCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new SingleFlight<Entry>();
  /** One pool per cluster, shared by its id and identifier keys. */
  private readonly upstreams = new Map<string, ClusterUpstream>();

  constructor(
    private readonly rt: Runtime,
    private readonly upstreamOptions: UpstreamOptions,
    private readonly opts = { maxAgeMs: 10 * 60_000, negativeMs: 5_000 },
  ) {}

  /** Synchronous when cached (steady state); a miss or an aged entry loads from the store. */
  resolve(key: string): ResolvedCluster | undefined | Promise<ResolvedCluster | undefined> {
    const entry = this.entries.get(key);
    const maxAge = entry?.cluster ? this.opts.maxAgeMs : this.opts.negativeMs;
    if (!entry || Date.now() - entry.loadedAt > maxAge) return this.load(key).then((e) => e.cluster);
    return entry.cluster;
  }

  private load(key: string): Promise<Entry> {
    return this.loads.run(key, () => this.fetch(key));
  }

  private async fetch(key: string): Promise<Entry> {
    const ctx = this.rt.context();
    const cluster = await findClusterByIdOrIdentifier(ctx, key);
    let entry: Entry;
    if (!cluster) entry = { loadedAt: Date.now() };
    else {
      const cred = await findCredential(ctx, cluster.id);
      let upstream: ClusterUpstream | undefined;
      if (cred) {
        const secrets = openCredential(ctx, cred);
        const current = this.upstreams.get(cluster.id);
        if (current && current.fingerprint === ClusterUpstream.fingerprintOf(secrets)) upstream = current;
        else {
          current?.retire();
          upstream = new ClusterUpstream(secrets, this.upstreamOptions);
          this.upstreams.set(cluster.id, upstream);
        }
      }
      entry = { cluster: { id: cluster.id, identifier: cluster.identifier, upstream }, loadedAt: Date.now() };
    }
    this.entries.set(key, entry);
    return entry;
  }

  /** Forgets everything cached about a cluster (by id or identifier). */
  invalidate(key: string): void {
    for (const [k, e] of this.entries) {
      if (k === key || e.cluster?.id === key || e.cluster?.identifier === key) this.entries.delete(k);
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
    void findClusterByIdOrIdentifier(this.rt.context(), clusterId)
      .catch(() => null)
      .then((cluster) => {
        if (cluster || this.upstreams.get(clusterId) !== upstream) return;
        upstream.destroy();
        this.upstreams.delete(clusterId);
      });
  }

  close(): void {
    for (const u of this.upstreams.values()) u.destroy();
    this.upstreams.clear();
    this.entries.clear();
  }
}
