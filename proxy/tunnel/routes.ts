import type { Duplex } from 'node:stream';
import type { ClusterSecrets } from '../../src/domain/credentials';
import type { TunnelRegistry } from './registry';

/** What the cluster cache needs to send a cluster's requests through its agent tunnel. */
export interface TunnelRoutes {
  /** Undefined when the cluster has no live tunnel in this process. */
  route(clusterId: string): { secrets: ClusterSecrets; dial: (url: URL) => Duplex } | undefined;
}

/** Routes over the registry: the newest tunnel's credential; each dial goes through whichever tunnel is newest then. */
export function tunnelRoutes(registry: TunnelRegistry, connectTimeoutMs: number): TunnelRoutes {
  return {
    route(clusterId) {
      const session = registry.newest(clusterId);
      if (!session) return undefined;
      const { params } = session;
      const secrets: ClusterSecrets = {
        id: 0,
        clusterId,
        serverAddresses: [params.address],
        caCertData: params.caCertPem,
        userToken: params.userToken,
        clusterDomain: null,
        createdAt: session.connectedAt,
        updatedAt: session.connectedAt,
      };
      return { secrets, dial: (url) => registry.dial(clusterId, `${url.hostname}:${url.port || 443}`, connectTimeoutMs) };
    },
  };
}
