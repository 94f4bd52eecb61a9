import type { Registry } from 'prom-client';
import type { Mount } from '../src/http/types';
import type { Runtime } from '../src/runtime';
import { TunnelProxy } from './k8s/tunnel-proxy';

export interface ProxySurfaces {
  mounts: Mount[];
  stop(): Promise<void>;
}

/** The proxy half: the Kubernetes tunnel (and, later, the Mesos passthrough) over the shared store. */
export async function createProxy(rt: Runtime, registry: Registry): Promise<ProxySurfaces> {
  const tunnel = new TunnelProxy(rt, registry);
  await tunnel.start();
  return {
    mounts: [tunnel.mount()],
    stop: async () => tunnel.stop(),
  };
}
