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
      const hostPort = (url: URL): string => `${url.hostname}:${url.port || 443}`;
      const agentCredential = { userToken: params.userToken, caCertPem: params.caCertPem };
      return {
        secrets,
        dial: (url) => registry.dial(clusterId, hostPort(url), connectTimeoutMs),
        // The registry dials plaintext only through a tunnel of an agent that brought this very credential.
        agentTls: params.agentTls ? { ...agentCredential, dial: (url) => registry.dial(clusterId, hostPort(url), connectTimeoutMs, agentCredential) } : undefined,
      };
    },
    connected: () => [...new Set(registry.all().filter((s) => s.isOpen).map((s) => s.clusterId))],
    onChange: (listener) => registry.onChange(listener),
  };
}
