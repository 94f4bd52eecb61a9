import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Mount } from './http/types';
import { answerSeriesRequests, clusterMetrics, workerId } from './workers/worker';

/**
 * GC pause buckets finer than prom-client's (1 ms, 10 ms, 100 ms, …): the proxy's latency tail is a
 * matter of a few milliseconds, and a scavenge of 2 ms and one of 9 ms fell in the same bucket.
 */
const GC_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1];

/**
 * One registry per process (tests start several gateways, so not prom-client's global one). Its
 * default metrics include the event-loop delay (`nodejs_eventloop_lag_*`, reset at each scrape) and GC
 * pauses (`nodejs_gc_duration_seconds`). Under `proxy.workers` every series carries its `worker`, and
 * the primary gathers all workers' registries for a scrape that any one of them answers.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  const worker = workerId();
  if (worker) {
    registry.setDefaultLabels({ worker });
    answerSeriesRequests(registry);
  }
  collectDefaultMetrics({ register: registry, gcDurationBuckets: GC_BUCKETS });
  return registry;
}

/** The exposition: this process's registry, or under `proxy.workers` every worker's. */
export async function exposition(registry: Registry): Promise<{ body: string; contentType: string }> {
  if (workerId()) return clusterMetrics();
  return { body: await registry.metrics(), contentType: registry.contentType };
}

export function metricsMount(registry: Registry): Mount {
  return {
    prefix: '/metrics',
    handler: async (_req, res) => {
      const { body, contentType } = await exposition(registry);
      res.writeHead(200, { 'content-type': contentType });
      res.end(body);
    },
  };
}
