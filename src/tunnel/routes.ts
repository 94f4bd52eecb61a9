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
  /** Offered when the agent ends the apiserver's TLS itself (it announced `agentTls`): see `agentTerminatedDial`. */
  agentTls?: AgentTlsDial;
}

/** A dialler whose connections carry the apiserver's plaintext, and the credential the agent brought. */
export interface AgentTlsDial {
  dial: (url: URL) => Duplex;
  userToken: string;
  caCertPem: string;
}

/**
 * The plaintext dialler to use with `secrets`, or undefined to run TLS over `route.dial` as always.
 *
 * Why plaintext is safe only with the agent's own credential: when the token and CA the gateway uses
 * are the ones this agent brought, the agent already holds the token, and the gateway's own check of
 * the apiserver's certificate adds nothing against the agent (the agent chose the CA, so it could
 * answer for the apiserver itself); inside the encrypted websocket, plaintext shows the agent nothing
 * it does not already have. A credential from anywhere else (an operator's, a report) would reach the
 * agent readable, so it keeps TLS end to end to the apiserver.
 */
export function agentTerminatedDial(route: TunnelRoute, secrets: Pick<ClusterSecrets, 'userToken' | 'caCertData'>): ((url: URL) => Duplex) | undefined {
  const offer = route.agentTls;
  if (!offer || secrets.userToken !== offer.userToken || secrets.caCertData !== offer.caCertPem) return undefined;
  return offer.dial;
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
