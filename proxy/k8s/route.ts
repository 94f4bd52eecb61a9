/** Where a tunnel request goes: which cluster, and the Kubernetes path (with query) to ask it for. */
export interface TunnelRoute {
  clusterKey: string;
  /** Starts with `/`; the original query string is kept verbatim. */
  upstreamPath: string;
}

export const TUNNEL_PREFIX = '/tunnels/clusters/';

const CLUSTER_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function segmentProblem(seg: string): string | undefined {
  if (seg === '.' || seg === '..') return 'dot segments are not allowed in the path';
  if (!seg.includes('%')) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(seg);
  } catch {
    return 'malformed percent-encoding in path';
  }
  if (decoded === '.' || decoded === '..') return 'dot segments are not allowed in the path';
  if (/[/\\]/.test(decoded)) return 'encoded slashes are not allowed in the path';
  if (/[\u0000-\u001f]/.test(decoded)) return 'control characters are not allowed in the path';
  return undefined;
}

/**
 * Parses `/tunnels/clusters/{cluster}/{path}` from the raw request target. Anything that could make the
 * path mean another cluster or escape the prefix is refused rather than normalised: dot segments (also
 * percent-encoded), encoded slashes or backslashes, empty segments, absolute-form targets. The cluster
 * is authorised and routed on the same parsed value.
 */
export function parseTunnelTarget(rawTarget: string): TunnelRoute | { error: string } {
  if (!rawTarget.startsWith(TUNNEL_PREFIX)) return { error: 'not a tunnel path' };
  const q = rawTarget.indexOf('?');
  const path = q < 0 ? rawTarget : rawTarget.slice(0, q);
  const query = q < 0 ? '' : rawTarget.slice(q);
  const rest = path.slice(TUNNEL_PREFIX.length);
  const slash = rest.indexOf('/');
  const clusterKey = slash < 0 ? rest : rest.slice(0, slash);
  if (!CLUSTER_KEY.test(clusterKey)) return { error: 'invalid cluster identifier in path' };
  const k8sPath = slash < 0 ? '/' : rest.slice(slash);
  if (/[\u0000-\u001f]/.test(k8sPath)) return { error: 'control characters are not allowed in the path' };
  // Walks the segments by index: this runs on every proxied request, and most segments need no decoding.
  for (let start = 1; start <= k8sPath.length; ) {
    let end = k8sPath.indexOf('/', start);
    if (end < 0) end = k8sPath.length;
    const seg = k8sPath.slice(start, end);
    if (seg === '' && end !== k8sPath.length) return { error: 'empty path segment' };
    const problem = segmentProblem(seg);
    if (problem) return { error: problem };
    start = end + 1;
  }
  return { clusterKey, upstreamPath: `${k8sPath}${query}` };
}
