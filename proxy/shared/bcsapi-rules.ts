/**
 * The original's authorization rules for `/bcsapi/v4` (its `auth_filter.go`, reference §5.1), as data:
 * which requests read and which manage, and where a rule finds the namespace. What the table does not
 * cover follows one default: GET and HEAD read, everything else manages. So the table matters where it
 * differs from that default (`POST query/...` on storage is a read) and where it names a namespace.
 */
import type { BcsapiAccessLevel } from './grant-access';

export type RuleAccess = Exclude<BcsapiAccessLevel, 'exec'>;

interface Rule {
  /** Segments: a literal, `a|b` alternatives, `*` (any one segment), `{clusterId}`, `{namespace}`. */
  pattern: string;
  methods: string[];
  access: RuleAccess;
}

const r = (pattern: string, methods: string, access: RuleAccess): Rule => ({ pattern, methods: methods.split(','), access });

const STORAGE: Rule[] = [
  r('query/mesos|k8s/dynamic/clusters/{clusterId}/*', 'GET,POST', 'read'),
  r('mesos|k8s/dynamic/namespace_resources/clusters/{clusterId}/namespaces/{namespace}/*/*', 'GET', 'read'),
  r('mesos|k8s/dynamic/namespace_resources/clusters/{clusterId}/namespaces/{namespace}/*', 'GET', 'read'),
  r('mesos|k8s/dynamic/cluster_resources/clusters/{clusterId}/*/*', 'GET', 'read'),
  r('mesos|k8s/dynamic/cluster_resources/clusters/{clusterId}/*', 'GET', 'read'),
  r('mesos|k8s/dynamic/all_resources/clusters/{clusterId}/*', 'GET', 'read'),
  r('metric/clusters/{clusterId}/namespaces/{namespace}/*/*', 'GET', 'read'),
  r('metric/clusters/{clusterId}/namespaces/{namespace}/*/*', 'PUT,DELETE', 'manage'),
  r('metric/clusters/{clusterId}', 'GET', 'read'),
  // Watches are POSTs that only read (bcs-storage's `dynamic/watch` routes); the cluster is in the path.
  r('dynamic/watch/containers/{clusterId}', 'POST', 'read'),
  r('dynamic/watch/{clusterId}/*', 'POST', 'read'),
];

// Written relative to the metric route's own path (`/bcsapi/v4/metric/{uri}`); the original's rules
// carried an extra `metric/` segment that requests to that route never have.
const METRIC: Rule[] = [
  r('clustertype/*/clusters/{clusterId}/namespaces/{namespace}/metrics', 'DELETE', 'manage'),
  r('tasks/clusters/{clusterId}', 'GET', 'read'),
  r('tasks/clusters/{clusterId}/namespaces/{namespace}/name/*', 'GET', 'read'),
  r('tasks/clusters/{clusterId}/namespaces/{namespace}/name/*', 'PUT,DELETE', 'manage'),
];

const WORKLOADS = 'applications|processes';
const MESOS: Rule[] = [
  r(`namespaces/{namespace}/${WORKLOADS}`, 'POST,PUT', 'manage'),
  r(`namespaces/{namespace}/${WORKLOADS}`, 'GET', 'read'),
  r(`namespaces/{namespace}/${WORKLOADS}/rollback`, 'PUT', 'manage'),
  r(`namespaces/{namespace}/${WORKLOADS}/*`, 'DELETE', 'manage'),
  r(`namespaces/{namespace}/${WORKLOADS}/*`, 'GET', 'read'),
  r(`namespaces/{namespace}/${WORKLOADS}/*/scale/*`, 'PUT', 'manage'),
  r('namespaces/{namespace}/applications/*/message', 'POST', 'manage'),
  r('namespaces/{namespace}/applications/*/taskgroups/*/message', 'POST', 'manage'),
  r('namespaces/{namespace}/applications/*/tasks', 'GET', 'read'),
  r('namespaces/{namespace}/applications/*/taskgroups', 'GET', 'read'),
  r('namespaces/{namespace}/applications/*/taskgroups/*/rescheduler', 'PUT', 'manage'),
  r('namespaces/{namespace}/applications/*/taskgroups/*/restart|reload', 'POST', 'manage'),
  r('namespaces/{namespace}/applications/*/versions', 'GET', 'read'),
  r('namespaces/{namespace}/applications/*/versions/*', 'GET', 'read'),
  r('namespaces/{namespace}/configmaps|secrets|services', 'POST,PUT', 'manage'),
  r('namespaces/{namespace}/configmaps|secrets|services/*', 'DELETE', 'manage'),
  r('cluster/resources', 'GET', 'read'),
  r('cluster/endpoints', 'GET', 'read'),
  r('cluster/current/offers', 'GET', 'read'),
  r('namespaces/{namespace}/deployments', 'POST,PUT', 'manage'),
  r('namespaces/{namespace}/deployments/*', 'DELETE', 'manage'),
  r('namespaces/{namespace}/deployments/*/cancelupdate|pauseupdate|resumeupdate', 'PUT', 'manage'),
  r('namespaces/{namespace}/deployments/*/scale/*', 'PUT', 'manage'),
  r('agentsettings', 'GET', 'read'),
  r('agentsettings', 'POST,DELETE', 'manage'),
  r('agentsettings/update|enable|disable', 'POST', 'manage'),
  r('crr/register', 'POST', 'manage'),
  r('crd/namespaces/{namespace}/*', 'POST,PUT', 'manage'),
  r('crd/namespaces/{namespace}/*/*', 'DELETE', 'manage'),
  r('image/commit/*', 'POST', 'manage'),
  r('definition/application|deployment/{namespace}/*', 'GET', 'read'),
];

/** Rule lists by route: `storage`, `metric` and `mesos` (the Mesos driver) have the original's; the rest use the default. */
const RULES: Record<string, Rule[]> = { storage: STORAGE, metric: METRIC, mesos: MESOS };

export interface AccessRequest {
  /** The route: `storage`, `metric`, `netservice`, `clusterkeeper`, `detection`, `mesos`, `k8s`. */
  module: string;
  method: string;
  /** The path under the route (`query/k8s/dynamic/clusters/BCS-K8S-001/Pod`), with or without its query. */
  uri: string;
  /** The `BCS-ClusterID` header, if any. */
  clusterId?: string;
}

export type AccessNeed =
  | {
      ok: true;
      access: RuleAccess;
      /** Every cluster the request names (header and path): access is needed on each. */
      clusters: string[];
      namespace?: string;
      /** The rule that decided (`storage: query/mesos|k8s/dynamic/clusters/{clusterId}/*`), or undefined for the default. */
      rule?: string;
    }
  | { ok: false; message: string };

function segmentsOf(uri: string): string[] | undefined {
  const q = uri.indexOf('?');
  const out: string[] = [];
  for (const raw of (q < 0 ? uri : uri.slice(0, q)).split('/')) {
    if (!raw) continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    // An upstream would resolve these to another path than the one decided on here.
    if (seg === '.' || seg === '..' || /[/\\\u0000-\u001f]/.test(seg)) return undefined;
    out.push(seg);
  }
  return out;
}

function match(rule: Rule, segs: string[]): { namespace?: string; clusterId?: string } | undefined {
  const parts = rule.pattern.split('/');
  if (parts.length !== segs.length) return undefined;
  let namespace: string | undefined;
  let clusterId: string | undefined;
  for (const [i, part] of parts.entries()) {
    const seg = segs[i]!;
    if (part === '{namespace}') namespace = seg;
    else if (part === '{clusterId}') clusterId = seg;
    else if (part !== '*' && !part.split('|').includes(seg)) return undefined;
  }
  return { namespace, clusterId };
}

/** The value after each `clusters` (or `namespaces`) segment. */
const valuesAfter = (segs: string[], key: string): string[] => segs.flatMap((s, i) => (s === key && i + 1 < segs.length ? [segs[i + 1]!] : []));

/** What a `/bcsapi` request needs, before anyone's grants are looked at. */
export function accessNeeded(req: AccessRequest): AccessNeed {
  const segs = segmentsOf(req.uri);
  if (!segs) return { ok: false, message: 'the request path may not contain dot segments, encoded separators or control characters' };
  const method = req.method.toUpperCase();
  const clusters = new Set<string>();
  const header = req.clusterId?.trim();
  if (header) clusters.add(header);
  for (const c of valuesAfter(segs, 'clusters')) clusters.add(c);
  for (const rule of RULES[req.module] ?? []) {
    if (!rule.methods.includes(method)) continue;
    const found = match(rule, segs);
    if (!found) continue;
    // A rule's `{clusterId}` not after a `clusters` segment (a storage watch's) names a cluster too.
    if (found.clusterId) clusters.add(found.clusterId);
    return { ok: true, access: rule.access, clusters: [...clusters], namespace: found.namespace, rule: `${req.module}: ${rule.pattern}` };
  }
  // Default: one `namespaces/{ns}` pair names the namespace; two would leave it ambiguous, so none counts.
  const namespaces = valuesAfter(segs, 'namespaces');
  return { ok: true, access: method === 'GET' || method === 'HEAD' ? 'read' : 'manage', clusters: [...clusters], namespace: namespaces.length === 1 ? namespaces[0] : undefined };
}
