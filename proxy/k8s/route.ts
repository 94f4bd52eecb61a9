/** Where a tunnel request goes: which cluster, and the Kubernetes path (with query) to ask it for. */
export interface TunnelRoute {
  clusterKey: string;
  /** Starts with `/`; the original query string is kept verbatim. */
  upstreamPath: string;
}

export const TUNNEL_PREFIX = '/tunnels/clusters/';

const CLUSTER_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

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
  const segments = k8sPath.split('/').slice(1);
  for (const [i, seg] of segments.entries()) {
    if (seg === '' && i !== segments.length - 1) return { error: 'empty path segment' };
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      return { error: 'malformed percent-encoding in path' };
    }
    if (decoded === '.' || decoded === '..') return { error: 'dot segments are not allowed in the path' };
    if (/[/\\]/.test(decoded) && decoded !== seg) return { error: 'encoded slashes are not allowed in the path' };
    if (/[\u0000-\u001f]/.test(decoded)) return { error: 'control characters are not allowed in the path' };
  }
  return { clusterKey, upstreamPath: `${k8sPath}${query}` };
}
