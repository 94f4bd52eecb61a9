import type { Duplex } from 'node:stream';
import type { ClusterSecrets } from '../domain/credentials';

/**
 * A cluster reached through its agent's reverse tunnel rather than by dialling its reported address. The
 * tunnel server (proxy/tunnel) implements it; the /tunnels proxy and the RBAC push both ask it first, so
 * a cluster only its agent can reach gets the same traffic as a dialled one. Defined here because
 * `src/` may not import `proxy/`: the composition root hands the implementation over.
 */
export interface TunnelRoute {
  secrets: ClusterSecrets;
  dial: (url: URL) => Duplex;
  /** Which way the dial goes (this process's tunnel, or a peer's), so a pool built one way is not reused the other. */
  via?: string;
}

export interface TunnelRoutes {
  /**
   * The credential the newest live tunnel brought and a dialler through it: this process's tunnel, else
   * (peering on) one a peer replica holds, with the credential it stored. Undefined without either.
   */
  route(clusterId: string): TunnelRoute | undefined | Promise<TunnelRoute | undefined>;
  /** Clusters with a live agent tunnel in this process, or (peering on) in a peer. */
  connected(): string[];
  /** Told each time one of a cluster's tunnels connects or goes away (`connected`: whether one is still open). */
  onChange(listener: (clusterId: string, connected: boolean) => void): void;
}
