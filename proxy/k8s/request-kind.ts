/** Requests that legitimately stay open: no response deadline, counted apart, excluded from latency. */
export function isLongRunning(method: string, upstreamPath: string): boolean {
  if (method !== 'GET') return false;
  const q = upstreamPath.indexOf('?');
  const path = q < 0 ? upstreamPath : upstreamPath.slice(0, q);
  if (/\/watch\//.test(path) || /\/proxy(\/|$)/.test(path)) return true;
  // Most requests have no query: no parameter parsing on the hot path for them.
  if (q < 0) return false;
  const params = new URLSearchParams(upstreamPath.slice(q + 1));
  const truthy = (v: string | null): boolean => v === 'true' || v === '1';
  return truthy(params.get('watch')) || truthy(params.get('follow'));
}

/** The Kubernetes verb for audit lines (list vs get is not told apart without discovery; both are reads). */
export function auditVerb(method: string, upstreamPath: string, upgrade: string | undefined): string {
  if (upgrade) return 'connect';
  if (method === 'GET' && /[?&]watch=(1|true)(&|$)/.test(upstreamPath)) return 'watch';
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return method.toLowerCase();
  }
}
