import { findCredential, openCredential } from '../domain/credentials';
import type { DomainContext } from '../domain/context';
import type { Runtime } from '../runtime';
import { ClusterCredential } from '../store/entities';
import type { TunnelRoutes } from '../tunnel/routes';
import type { ApplyOptions, RbacCredentials } from './apply';

/** How a sync reaches a cluster: its credential, and the tunnel's dialler when it goes through one. */
export interface Transport {
  creds: RbacCredentials;
  dial?: ApplyOptions['dial'];
}

/** A live tunnel (this process's, else a peer's) first, as the /tunnels proxy, else the reported credential. */
export async function transportFor(ctx: DomainContext, clusterId: string, tunnels?: TunnelRoutes): Promise<Transport | undefined> {
  const tunnel = await tunnels?.route(clusterId);
  if (tunnel) return { creds: { ...tunnel.secrets, clusterId }, dial: tunnel.dial };
  const cred = await findCredential(ctx, clusterId);
  return cred ? { creds: { ...openCredential(ctx, cred), clusterId } } : undefined;
}

/** Clusters this process can push to: reported credentials, or a live tunnel here. */
export async function pushableClusters(rt: Runtime, tunnels?: TunnelRoutes): Promise<string[]> {
  const creds = await rt.orm.em.fork().find(ClusterCredential, {}, { fields: ['cluster'] });
  return [...new Set([...creds.map((c) => c.cluster.id), ...(tunnels?.connected() ?? [])])];
}
