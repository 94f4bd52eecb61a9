import type { ServiceModule } from '../../src/discovery/types';

/** One `/bcsapi/v4/<surface>/{uri}` passthrough of the original (reference §5.4-5.6). */
export interface ModuleRoute {
  /** Gateway path prefix, with its trailing slash. */
  prefix: string;
  /** Module name in ZooKeeper (`/bcs/services/endpoints/<module>`). */
  module: ServiceModule;
  /** Path prefix on the module's server; `{uri}` is appended. */
  upstreamPrefix: string;
  /** The original's `type` label of `bcs_api_request_*`. */
  type: string;
  methods: ReadonlySet<string>;
  /** The original's "not found" code and text for the module (no live server). */
  notFoundCode: number;
  notFoundText: string;
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'DELETE']);

/** The original's codes (1405000 + offset; reference §1.4). */
export const MODULE_CODES = { storage: 1405052, netservice: 1405054, metrics: 1405055 } as const;

export const MODULE_ROUTES: readonly ModuleRoute[] = [
  { prefix: '/bcsapi/v4/storage/', module: 'storage', upstreamPrefix: '/bcsstorage/v1/', type: 'storage', methods: METHODS, notFoundCode: MODULE_CODES.storage, notFoundText: 'bcs storage not found' },
  // The original had no code of its own for detection (its proxy answered an empty 502); it shares storage's design, so its code.
  { prefix: '/bcsapi/v4/detection/', module: 'networkdetection', upstreamPrefix: '/detection/v4/', type: 'detection', methods: METHODS, notFoundCode: MODULE_CODES.storage, notFoundText: 'bcs networkdetection not found' },
  { prefix: '/bcsapi/v4/metric/', module: 'metricservice', upstreamPrefix: '/api/v1/metric/', type: 'metrics', methods: METHODS, notFoundCode: MODULE_CODES.metrics, notFoundText: 'bcs metrics not found' },
  { prefix: '/bcsapi/v4/netservice/', module: 'netservice', upstreamPrefix: '/v1/', type: 'net_service', methods: METHODS, notFoundCode: MODULE_CODES.netservice, notFoundText: 'bcs netservice not found' },
  { prefix: '/bcsapi/v4/clusterkeeper/', module: 'clusterkeeper', upstreamPrefix: '/bcsclusterkeeper/v1/', type: 'cluster_keeper', methods: METHODS, notFoundCode: MODULE_CODES.netservice, notFoundText: 'bcs clusterkeeper not found' },
];

/**
 * Whether a request is a long-lived watch, exempt from the response-header deadline. bcs-storage serves
 * its watches as `POST /bcsstorage/v1/dynamic/watch/{clusterId}/{resourceType}` and
 * `POST …/dynamic/watch/containers/{clusterId}`, answering as events happen: a `watch` path segment. A
 * `watch=true` (or `1`) query, the Kubernetes spelling, counts too.
 */
export function isWatch(uri: string): boolean {
  const q = uri.indexOf('?');
  const path = q < 0 ? uri : uri.slice(0, q);
  if (path.split('/').includes('watch')) return true;
  if (q < 0) return false;
  const watch = new URLSearchParams(uri.slice(q + 1)).get('watch');
  return watch === 'true' || watch === '1';
}
