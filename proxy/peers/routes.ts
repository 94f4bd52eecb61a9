import { findTunnelCredential, openTunnelCredential } from '../../src/domain/tunnel-credentials';
import type { Runtime } from '../../src/runtime';
import type { TunnelRoute, TunnelRoutes } from '../../src/tunnel/routes';
import type { PeerDialer } from './dialer';
import type { Holders } from './directory';

const hostPortOf = (address: string | URL): string => {
  const url = typeof address === 'string' ? new URL(address) : address;
  return `${url.hostname}:${url.port || 443}`;
};

/**
 * Agent tunnel routes across replicas: this process's tunnel when it holds one (`local`, absent on an
 * `--role api` replica), else a peer's. Through a peer, the credential is the one the holder stored
 * sealed in the shared database (so nothing secret passes between replicas), and every connection is a
 * relay to the agent's own address; TLS to the apiserver runs end to end over it, so requests, watches
 * and upgrades go through this replica's passes unchanged.
 */
export function peerTunnelRoutes(rt: Runtime, local: TunnelRoutes | undefined, directory: Holders, dialer: PeerDialer): TunnelRoutes {
  const peersHold = (clusterId: string): boolean => directory.holders(clusterId, 'kube-agent').length > 0;

  const viaPeer = async (clusterId: string): Promise<TunnelRoute | undefined> => {
    const holders = directory.holders(clusterId, 'kube-agent');
    if (!holders.length) return undefined;
    const ctx = rt.context();
    const cred = await findTunnelCredential(ctx, clusterId);
    if (!cred) return undefined;
    const opened = openTunnelCredential(ctx, cred);
    const target = hostPortOf(opened.serverAddress);
    // The process that stored the credential holds the agent that brought it; any holder of the same address will do otherwise.
    const holder = holders.find((h) => h.owner === cred.ownerId && h.target === target) ?? holders.find((h) => h.target === target);
    if (!holder) return undefined;
    return {
      secrets: {
        id: 0,
        clusterId,
        serverAddresses: [opened.serverAddress],
        caCertData: opened.caCertPem,
        userToken: opened.userToken,
        clusterDomain: null,
        createdAt: cred.connectedAt,
        updatedAt: cred.connectedAt,
      },
      via: `peer ${holder.url}`,
      dial: (url) => dialer.dial(holder.url, { clusterId, module: 'kube-agent', target: hostPortOf(url) }),
    };
  };

  return {
    route(clusterId) {
      // `local` may itself be a chain (this worker's tunnel, then other workers'), answering with a promise.
      const here = local?.route(clusterId);
      if (here instanceof Promise) return here.then((r) => r ?? viaPeer(clusterId));
      return here ?? viaPeer(clusterId);
    },
    connected: () => [...new Set([...(local?.connected() ?? []), ...directory.clusters('kube-agent')])],
    onChange(listener) {
      local?.onChange((clusterId, connected) => listener(clusterId, connected || peersHold(clusterId)));
      directory.onChange((clusterId) => listener(clusterId, peersHold(clusterId) || (local?.connected().includes(clusterId) ?? false)));
    },
  };
}
