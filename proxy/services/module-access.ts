/**
 * Who may use the `/bcsapi/v4` module passthroughs: the caller-identity and authorization step, behind
 * the one function `ModuleAccess` so that the full `/bcsapi` identities (X-Bcs-User-Token, X-Bkapi-JWT)
 * and the original's rule table can replace the body without touching the passthroughs.
 *
 * For now: the gateway's bearer tokens (PrincipalCache) and the stored cluster-wide grants (GrantAccess).
 * The cluster is the `BCS-ClusterID` header, else the path's `clusters/{clusterId}` (or a storage watch's
 * `dynamic/watch/[containers/]{clusterId}`). With a cluster, reads need a read grant on it and other
 * methods a writing one; without, any authenticated caller reads and writes need a super user. Super
 * users may do everything.
 */
import type { IncomingMessage } from 'node:http';
import { bearerFrom } from '../../src/domain/auth';
import type { Runtime } from '../../src/runtime';
import { STORE_RETRY_AFTER_SECONDS, STORE_UNAVAILABLE_MESSAGE } from '../../src/store/outage';
import { CODES } from '../mesos/envelope';
import type { GrantAccess } from '../shared/grant-access';
import type { PrincipalCache, ProxyPrincipal } from '../shared/principal-cache';

export interface ModuleAccessTarget {
  /** The module's metric type (`storage`, `metrics`, …). */
  type: string;
  method: string;
  /** The module-relative path, without the query. */
  path: string;
}

export type ModuleAccessDecision =
  | { allowed: true; principal: ProxyPrincipal; clusterId?: string }
  | { allowed: false; status: number; code: number; message: string; headers?: Record<string, string>; principal?: ProxyPrincipal; clusterId?: string };

export type ModuleAccess = (req: IncomingMessage, target: ModuleAccessTarget) => Promise<ModuleAccessDecision>;

const RETRY_AFTER = { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) };

/** The cluster a request names: the header first, as the original's rules did, then the path. */
export function clusterOf(req: IncomingMessage, path: string): string | undefined {
  const header = String(req.headers['bcs-clusterid'] ?? '').trim();
  if (header) return header;
  const segs = path.split('/').filter(Boolean);
  const at = segs.indexOf('clusters');
  if (at >= 0 && segs[at + 1]) return decodeURIComponent(segs[at + 1]!);
  const watch = segs.indexOf('watch');
  if (watch > 0 && segs[watch - 1] === 'dynamic') {
    const id = segs[watch + 1] === 'containers' ? segs[watch + 2] : segs[watch + 1];
    if (id) return decodeURIComponent(id);
  }
  return undefined;
}

/** Reads: GET and HEAD, and the POSTs that only read (storage `query/…` and `dynamic/watch/…`). */
export function isRead(method: string, path: string): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  if (method !== 'POST') return false;
  const segs = path.split('/');
  return segs.includes('query') || segs.includes('watch');
}

export function createModuleAccess(rt: Runtime, principals: PrincipalCache, grants: GrantAccess): ModuleAccess {
  const unavailable = (err: unknown): ModuleAccessDecision => {
    if (!rt.storeHealth.report(err)) throw err;
    return { allowed: false, status: 503, code: CODES.dbError, message: STORE_UNAVAILABLE_MESSAGE, headers: RETRY_AFTER };
  };
  return async (req, target) => {
    let auth;
    try {
      auth = await principals.authenticate(bearerFrom(req.headers.authorization));
    } catch (err) {
      return unavailable(err);
    }
    if (!auth.ok) return { allowed: false, status: 401, code: CODES.unauthorized, message: auth.message };
    const principal = auth.principal;
    const clusterId = clusterOf(req, target.path);
    if (principal.isSuperUser) return { allowed: true, principal, clusterId };
    const read = isRead(target.method, target.path);
    if (!clusterId) {
      if (read) return { allowed: true, principal };
      return { allowed: false, status: 403, code: CODES.forbidden, message: `bcs auth check error: ${target.method} on a path that names no cluster needs a super user`, principal };
    }
    let allowed: boolean;
    try {
      allowed = await grants.allows(principal, clusterId, read ? 'GET' : target.method);
    } catch (err) {
      if (rt.storeHealth.report(err)) return unavailable(err);
      rt.logger.warn({ err }, 'cannot read grants for the module passthrough');
      return { allowed: false, status: 503, code: CODES.internal, message: 'permissions cannot be checked right now', headers: RETRY_AFTER, principal, clusterId };
    }
    if (allowed) return { allowed: true, principal, clusterId };
    const need = read ? 'a cluster-wide grant' : 'a cluster-wide grant whose template allows writes';
    return { allowed: false, status: 403, code: CODES.forbidden, message: `bcs auth check error: user ${principal.userName} needs ${need} on cluster ${clusterId}`, principal, clusterId };
  };
}
