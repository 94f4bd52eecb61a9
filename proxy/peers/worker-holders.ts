import type { HolderMap } from '../../src/workers/messages';
import type { WorkerRelaySide } from '../../src/workers/holder-feed';
import type { Holder, Holders } from './directory';
import type { PeerModule } from './protocol';

/** The URL a worker's relay socket goes by in holders and `via` (the dialer maps it back to the socket). */
const urlOf = (workerId: string): string => `http://bcs-api-worker-${workerId}`;

/**
 * The tunnels other workers of this primary hold, from the map the primary broadcasts over IPC. A
 * worker that dies is dropped from the map by the primary; a cluster whose entries change is announced,
 * so routes cached through the old holder are dropped.
 */
export class WorkerHolderMap implements Holders {
  private readonly sockets = new Map<string, string>();
  private byCluster = new Map<string, Holder[]>();
  private readonly listeners: ((clusterId: string) => void)[] = [];

  constructor(private readonly side: WorkerRelaySide) {
    this.load(side.map());
    side.onMap((map) => this.load(map));
  }

  /** The relay socket behind a holder's URL. */
  socketOf(url: URL): string | undefined {
    return this.sockets.get(url.origin);
  }

  holders(clusterId: string, module: PeerModule): Holder[] {
    return (this.byCluster.get(clusterId) ?? []).filter((h) => h.module === module);
  }

  clusters(module: PeerModule): string[] {
    return [...this.byCluster.keys()].filter((id) => this.holders(id, module).length > 0);
  }

  onChange(listener: (clusterId: string) => void): void {
    this.listeners.push(listener);
  }

  private load(map: HolderMap): void {
    const next = new Map<string, Holder[]>();
    this.sockets.clear();
    for (const [workerId, { socket, holdings }] of Object.entries(map)) {
      if (workerId === this.side.workerId) continue;
      const url = urlOf(workerId);
      this.sockets.set(url, socket);
      for (const h of holdings) next.set(h.clusterId, [...(next.get(h.clusterId) ?? []), { url, ...h }]);
    }
    const before = this.byCluster;
    this.byCluster = next;
    for (const id of new Set([...before.keys(), ...next.keys()])) {
      if (JSON.stringify(before.get(id)) !== JSON.stringify(next.get(id))) for (const l of this.listeners) l(id);
    }
  }
}
