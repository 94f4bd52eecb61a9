import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Mount } from './http/types';

/** One registry per process (tests start several gateways, so not prom-client's global one). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function metricsMount(registry: Registry): Mount {
  return {
    prefix: '/metrics',
    handler: async (_req, res) => {
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(body);
    },
  };
}
