import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { isWorkerMessage } from './messages';

/** How long the primary waits for a worker's series. */
const SERIES_TIMEOUT_MS = 3000;

let nextId = 0;

/** prom-client's JSON form of a registry's metrics. */
type Series = object[];

function seriesOf(w: Worker): Promise<Series> {
  const id = (nextId += 1);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      w.off('message', onMessage);
      reject(new Error(`worker ${w.id} did not answer with its metrics`));
    }, SERIES_TIMEOUT_MS);
    const onMessage = (m: unknown): void => {
      if (!isWorkerMessage(m) || m.bcs !== 'series' || m.id !== id) return;
      clearTimeout(timer);
      w.off('message', onMessage);
      if (m.series) resolve(m.series as Series);
      else reject(new Error(m.error ?? 'no metrics'));
    };
    w.on('message', onMessage);
    w.send({ bcs: 'series-request', id });
  });
}

/**
 * Every started worker's series in one exposition. Each worker labels its series with its id, so
 * prom-client's aggregation (which merges series of equal labels) keeps them apart rather than adding
 * them up. prom-client's own clusterMetrics asks every connected worker, a starting one included, and
 * waits 5 s for it; this asks only workers that said they are ready.
 */
export async function gatherMetrics(ready: Worker[]): Promise<{ body: string; contentType: string }> {
  const all = await Promise.all(ready.filter((w) => w.isConnected()).map(seriesOf));
  const registry = AggregatorRegistry.aggregate(all);
  return { body: await registry.metrics(), contentType: registry.contentType };
}
