import type { Duplex } from 'node:stream';
import type { ClusterSecrets } from '../domain/credentials';

/**
 * A cluster reached through its agent's reverse tunnel rather than by dialling its reported address. The
 * tunnel server (proxy/tunnel) implements it; the /tunnels proxy and the RBAC push both ask it first, so
 * a cluster only its agent can reach gets the same traffic as a dialled one. Defined here because
 * `src/` may not import `proxy/`: the composition root hands the implementation over.
 */
export interface TunnelRoutes {
  /** The credential the newest live tunnel brought and a dialler through it; undefined without a live tunnel in this process. */
  route(clusterId: string): { secrets: ClusterSecrets; dial: (url: URL) => Duplex } | undefined;
  /** Clusters with a live agent tunnel in this process. */
  connected(): string[];
  /** Told each time one of a cluster's tunnels connects or goes away (`connected`: whether one is still open). */
  onChange(listener: (clusterId: string, connected: boolean) => void): void;
}
