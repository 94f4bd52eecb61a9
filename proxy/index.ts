import type { Registry } from 'prom-client';
import type { Mount } from '../src/http/types';
import type { Runtime } from '../src/runtime';
import { TunnelProxy } from './k8s/tunnel-proxy';
import { ChangeFeedFollower } from './shared/change-feed';
import { ProxyMetrics } from './shared/metrics';
import { PrincipalCache } from './shared/principal-cache';

export interface ProxySurfaces {
  mounts: Mount[];
  stop(): Promise<void>;
}

/**
 * The proxy half: the Kubernetes tunnel (and the Mesos passthrough) over the shared store. One
 * principal cache and one change-feed follower serve every surface.
 */
export async function createProxy(rt: Runtime, registry: Registry): Promise<ProxySurfaces> {
  const principals = new PrincipalCache(rt);
  const metrics = new ProxyMetrics(registry);
  const tunnel = new TunnelProxy(rt, principals, metrics);
  const feed = new ChangeFeedFollower(rt, (kind, key) => {
    if (kind === 'token') principals.invalidateToken(key);
    else if (kind === 'user') principals.invalidateUser(Number(key));
    tunnel.onChange(kind, key);
  });
  await feed.start();
  return {
    mounts: [tunnel.mount()],
    stop: async () => {
      feed.stop();
      tunnel.stop();
    },
  };
}
