import type { IncomingMessage } from 'node:http';
import type { Runtime } from '../../src/runtime';
import { STORE_RETRY_AFTER_SECONDS, STORE_UNAVAILABLE_MESSAGE } from '../../src/store/outage';
import { BcsapiCallers, type CredentialKind } from './bcsapi-caller';
import { accessNeeded, type AccessRequest } from './bcsapi-rules';
import type { BcsapiAccessLevel, GrantAccess } from './grant-access';
import type { PrincipalCache, ProxyPrincipal } from './principal-cache';

/** The original's envelope codes used here (reference §1.4). */
export const ACCESS_CODES = { internal: 1405050, forbidden: 1405058, unauthorized: 1405059, badRequest: 1405061, dbError: 1405062 } as const;

export interface Admitted {
  ok: true;
  principal: ProxyPrincipal;
  via: CredentialKind;
  /** The gateway token when the caller presented one (not for a JWT caller). */
  token?: string;
}

/** Render as the BCS envelope: `{result:false, code, message:"(bcs-api):…", data:null}` with this status and headers. */
export interface Refusal {
  ok: false;
  status: number;
  code: number;
  message: string;
  headers?: Record<string, string>;
  /** Set once the caller is known, so the audit line names who was refused. */
  principal?: ProxyPrincipal;
}

export type AccessDecision = Admitted | Refusal;

const refuse = (status: number, code: number, message: string, principal?: ProxyPrincipal, headers?: Record<string, string>): Refusal => ({ ok: false, status, code, message, principal, headers });
const RETRY_AFTER = { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) };

/**
 * The one access decision for `/bcsapi` routes: who the caller is (bcsapi-caller.ts), what the request
 * needs (bcsapi-rules.ts), and whether their grants give it (grant-access.ts). Super users may do
 * everything; a request naming no cluster may be read by any caller and written only by a super user.
 */
export class BcsapiAccess {
  readonly callers: BcsapiCallers;

  constructor(
    private readonly rt: Runtime,
    principals: PrincipalCache,
    private readonly grants: GrantAccess,
  ) {
    this.callers = new BcsapiCallers(rt, principals);
  }

  /** For a passthrough: `target.uri` is the path under the route, `target.clusterId` the `BCS-ClusterID` header. */
  async authorize(req: IncomingMessage, target: AccessRequest): Promise<AccessDecision> {
    const need = accessNeeded(target);
    if (!need.ok) return refuse(400, ACCESS_CODES.badRequest, need.message);
    const caller = await this.identify(req);
    if (!caller.ok) return caller;
    if (caller.principal.isSuperUser) return caller;
    if (!need.clusters.length) {
      return need.access === 'read' ? caller : refuse(403, ACCESS_CODES.forbidden, `bcs auth check error: ${target.method} on a path that names no cluster needs a super user`, caller.principal);
    }
    for (const cluster of need.clusters) {
      const denied = await this.check(caller.principal, cluster, need.namespace, need.access);
      if (denied) return denied;
    }
    return caller;
  }

  /** For the web console, once the caller is known: a shell on a cluster's hosts needs an exec-capable cluster-wide grant. */
  async authorizeExec(principal: ProxyPrincipal, clusterId: string): Promise<Refusal | undefined> {
    return principal.isSuperUser ? undefined : this.check(principal, clusterId, undefined, 'exec');
  }

  /** The caller alone (401 refusals), for routes that decide access themselves. */
  async identify(req: IncomingMessage): Promise<AccessDecision> {
    let caller;
    try {
      caller = await this.callers.identify(req.headers);
    } catch (err) {
      return this.unavailable(err);
    }
    return caller.ok ? caller : refuse(401, ACCESS_CODES.unauthorized, caller.message);
  }

  onChange(kind: string, key: string): void {
    this.callers.onChange(kind, key);
    if (kind === 'rbac') this.grants.invalidate();
  }

  private async check(principal: ProxyPrincipal, clusterId: string, namespace: string | undefined, level: BcsapiAccessLevel): Promise<Refusal | undefined> {
    let allowed: boolean;
    try {
      allowed = await this.grants.permits(principal, clusterId, namespace, level);
    } catch (err) {
      return { ...this.unavailable(err), principal };
    }
    if (allowed) return undefined;
    const what = level === 'exec' ? 'a cluster-wide grant whose template allows pods/exec' : level === 'manage' ? 'a grant whose template allows writes' : 'a grant';
    const where = namespace ? `cluster ${clusterId} (cluster-wide or namespace ${namespace})` : `cluster ${clusterId}`;
    return refuse(403, ACCESS_CODES.forbidden, `bcs auth check error: user ${principal.userName} needs ${what} on ${where}`, principal);
  }

  /** A store outage is 503 with Retry-After (logged once per outage by the store health); anything else is a bug. */
  private unavailable(err: unknown): Refusal {
    if (this.rt.storeHealth.report(err)) return refuse(503, ACCESS_CODES.dbError, STORE_UNAVAILABLE_MESSAGE, undefined, RETRY_AFTER);
    this.rt.logger.warn({ err }, 'cannot decide access to a /bcsapi route');
    return refuse(503, ACCESS_CODES.internal, 'access cannot be checked right now', undefined, RETRY_AFTER);
  }
}

/** The function form the passthroughs call: `authorizeBcsapi(access, req, {module, method, uri, clusterId})`. */
export function authorizeBcsapi(access: BcsapiAccess, req: IncomingMessage, target: AccessRequest): Promise<AccessDecision> {
  return access.authorize(req, target);
}
