import type { IncomingHttpHeaders } from 'node:http';
import type { Runtime } from '../../src/runtime';
import { ApigwJwt } from './apigw-jwt';
import type { AuthOutcome, PrincipalCache, ProxyPrincipal } from './principal-cache';

/** Which header carried the caller's credential (for audit lines; never the credential itself). */
export type CredentialKind = 'bearer' | 'x-bcs-user-token' | 'x-bkapi-jwt';

export type CallerOutcome =
  | { ok: true; principal: ProxyPrincipal; via: CredentialKind; /** The gateway token, when one was presented. */ token?: string }
  | { ok: false; message: string };

const BEARER = /^Bearer\s+(\S+)\s*$/i;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : value.join(', ')) : value;
}

/**
 * Who is calling a `/bcsapi` route. Credentials are read in a fixed order: `Authorization: Bearer`,
 * then the original's `X-Bcs-User-Token` (the same gateway tokens), then the API gateway's
 * `X-Bkapi-JWT` when `bkiam_auth.apigw_rsa_file` is configured. The first credential present decides:
 * a bad one is refused, never passed over for the next. No credential is refused too; there is no
 * "authentication off" here, unlike the original's default.
 */
export class BcsapiCallers {
  private readonly jwt?: ApigwJwt;

  constructor(
    rt: Runtime,
    private readonly principals: PrincipalCache,
  ) {
    if (rt.config.apigwJwtKey) this.jwt = new ApigwJwt(rt, rt.config.apigwJwtKey.pem);
  }

  /** Synchronous for cached gateway tokens; throws what the store throws when it cannot be reached. */
  identify(headers: IncomingHttpHeaders): CallerOutcome | Promise<CallerOutcome> {
    const authorization = single(headers.authorization);
    if (authorization !== undefined) {
      const token = BEARER.exec(authorization)?.[1];
      if (!token) return { ok: false, message: 'Unauthorized: the Authorization header must be "Bearer <token>"' };
      return this.gatewayToken(token, 'bearer');
    }
    const userToken = single(headers['x-bcs-user-token'])?.trim();
    if (userToken !== undefined) {
      if (!userToken || /\s/.test(userToken)) return { ok: false, message: 'Unauthorized: X-Bcs-User-Token must carry one gateway token' };
      return this.gatewayToken(userToken, 'x-bcs-user-token');
    }
    const jwt = single(headers['x-bkapi-jwt'])?.trim();
    if (jwt !== undefined) {
      if (!this.jwt) return { ok: false, message: 'Unauthorized: X-Bkapi-JWT is not accepted here (bkiam_auth.apigw_rsa_file is not configured); send a gateway token' };
      return this.jwt.authenticate(jwt).then((o) => withVia(o, 'x-bkapi-jwt'));
    }
    return { ok: false, message: 'Unauthorized: send a gateway token as "Authorization: Bearer <token>" or X-Bcs-User-Token' };
  }

  private gatewayToken(token: string, via: CredentialKind): CallerOutcome | Promise<CallerOutcome> {
    const outcome = this.principals.authenticate(token);
    return outcome instanceof Promise ? outcome.then((o) => withVia(o, via, token)) : withVia(outcome, via, token);
  }

  /** Change-feed events: a changed user's JWT access is looked up again, as their tokens are. */
  onChange(kind: string, key: string): void {
    if (kind !== 'user' || !this.jwt) return;
    this.jwt.invalidateUser(Number(key));
    this.jwt.invalidateUnknownUsers();
  }
}

function withVia(outcome: AuthOutcome, via: CredentialKind, token?: string): CallerOutcome {
  return outcome.ok ? { ok: true, principal: outcome.principal, via, token } : outcome;
}

const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'x-bcs-user-token', 'x-bkapi-jwt']);

/**
 * Headers that carry or claim a caller's identity (lower-case name): never forwarded to an upstream, so a
 * gateway token cannot leak to a backend service and a client cannot claim to be someone else there.
 */
export function isIdentityHeader(name: string): boolean {
  return CREDENTIAL_HEADERS.has(name) || name.startsWith('impersonate-') || name.startsWith('x-remote-');
}
