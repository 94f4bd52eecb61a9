import type { ClusterSecrets } from '../../src/domain/credentials';
import type { TunnelRoutes } from '../../src/tunnel/routes';
import type { TunnelRegistry } from './registry';

export type { TunnelRoutes };

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
    connected: () => [...new Set(registry.all().filter((s) => s.isOpen).map((s) => s.clusterId))],
    onChange: (listener) => registry.onChange(listener),
  };
}
