/**
 * Who may use the `/bcsapi/v4` module passthroughs: the one `/bcsapi` decision (bcsapi-access.ts: the
 * caller's identity, the original's rule table, the grants), seen through the passthroughs' seam.
 */
import type { IncomingMessage } from 'node:http';
import type { BcsapiAccess } from '../shared/bcsapi-access';
import type { ProxyPrincipal } from '../shared/principal-cache';

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

/** Metric `type` label -> the rule table's route name. */
const RULE_MODULE: Record<string, string> = { storage: 'storage', metrics: 'metric', net_service: 'netservice', cluster_keeper: 'clusterkeeper', detection: 'detection' };

/** The cluster a request names, for the audit line: the header first, as the original's rules did, then the path. */
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

export function createModuleAccess(access: BcsapiAccess): ModuleAccess {
  return async (req, target) => {
    const clusterId = clusterOf(req, target.path);
    const header = String(req.headers['bcs-clusterid'] ?? '').trim() || undefined;
    const decision = await access.authorize(req, { module: RULE_MODULE[target.type] ?? target.type, method: target.method, uri: target.path, clusterId: header });
    if (decision.ok) return { allowed: true, principal: decision.principal, clusterId };
    const { status, code, message, headers, principal } = decision;
    return { allowed: false, status, code, message, headers, principal, clusterId };
  };
}
