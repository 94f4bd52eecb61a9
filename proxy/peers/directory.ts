import type { DiscoveredServer, ServerInfo } from '../../src/discovery';
import { HOLDER_MODULE } from '../../src/discovery/types';
import { PEER_MODULES, type PeerModule } from './protocol';

/** One tunnel another replica holds, as it published it. */
export interface Holder {
  /** The peer's listener, `https://ip:port`. */
  url: string;
  /** The holding process (the owner id in its tunnel credential rows). */
  owner: string;
  module: PeerModule;
  clusterId: string;
  /** `host:port` the tunnel's far end dials. */
  target: string;
  /** What the agent or driver reported, `http(s)://host:port`. */
  address: string;
}

/** What a holder node carries: ServerInfo fields (so the discovery cache keeps it) and the tunnel's. */
export interface HolderNode {
  ip: string;
  port: number;
  scheme: 'http' | 'https';
  owner: string;
  module: PeerModule;
  cluster: string;
  target: string;
  address: string;
}

/** The part of ZooKeeper discovery peering uses. */
export interface HolderSource {
  holders(clusterId: string): ServerInfo[];
  list(): DiscoveredServer[];
  publishHolder(key: string, clusterId: string, name: string, data: string): void;
  withdrawHolder(key: string): void;
  on(event: 'add' | 'delete', listener: (server: DiscoveredServer) => void): unknown;
  on(event: 'update', listener: (server: DiscoveredServer, previous: DiscoveredServer) => void): unknown;
  on(event: 'synced', listener: () => void): unknown;
}

function parseHolder(info: ServerInfo, clusterId: string): Holder | undefined {
  const { owner, module, target, address, scheme } = info as Partial<HolderNode> & ServerInfo;
  if (typeof owner !== 'string' || typeof target !== 'string' || typeof address !== 'string') return undefined;
  if (!PEER_MODULES.includes(module as PeerModule)) return undefined;
  const host = info.ip.includes(':') ? `[${info.ip}]` : info.ip;
  return { url: `${scheme === 'https' ? 'https' : 'http'}://${host}:${info.port}`, owner, module: module as PeerModule, clusterId, target, address };
}

/** Who else holds a tunnel: other replicas (HolderDirectory) or other workers of this primary. */
export interface Holders {
  holders(clusterId: string, module: PeerModule): Holder[];
  /** Clusters someone else holds a tunnel of `module` for. */
  clusters(module: PeerModule): string[];
  onChange(listener: (clusterId: string) => void): void;
}

/**
 * The tunnels other replicas hold, from the discovery cache (answered from memory; a holder whose node
 * goes, or whose session expires, is gone from here when ZooKeeper says so; while ZooKeeper is
 * unreachable the last known holders stay). This process's own nodes are left out by owner id.
 */
export class HolderDirectory implements Holders {
  private readonly owners = new Set<string>();
  private readonly listeners: ((clusterId: string) => void)[] = [];

  constructor(private readonly source: HolderSource) {
    const changed = (s: DiscoveredServer): void => {
      if (s.module === HOLDER_MODULE && s.clusterId !== undefined) this.emit(s.clusterId);
    };
    source.on('add', changed);
    source.on('delete', changed);
    source.on('update', changed);
    // Synced after an outage: the listing may have changed while nobody was told (stale changes no answer:
    // the last known holders are still relayed to, and each relay asks the holder itself).
    const all = (): void => {
      for (const id of this.heldClusters()) this.emit(id);
    };
    source.on('synced', all);
  }

  /** Tunnels of this owner id are this process's own. */
  addOwn(owner: string): void {
    this.owners.add(owner);
  }

  holders(clusterId: string, module: PeerModule): Holder[] {
    return this.source.holders(clusterId).flatMap((info) => {
      const h = parseHolder(info, clusterId);
      return h && h.module === module && !this.owners.has(h.owner) ? [h] : [];
    });
  }

  /** Clusters some peer holds a tunnel of `module` for. */
  clusters(module: PeerModule): string[] {
    return [...this.heldClusters()].filter((id) => this.holders(id, module).length > 0);
  }

  onChange(listener: (clusterId: string) => void): void {
    this.listeners.push(listener);
  }

  /** Clusters with any holder node, this process's own included. */
  private heldClusters(): Set<string> {
    return new Set(this.source.list().flatMap((s) => (s.module === HOLDER_MODULE && s.clusterId ? [s.clusterId] : [])));
  }

  private emit(clusterId: string): void {
    for (const l of this.listeners) l(clusterId);
  }
}
