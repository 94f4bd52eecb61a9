import type { OutgoingHttpHeaders } from 'node:http';
import { isReservedKubernetesName, kubernetesUserName } from '../../../src/domain/kube-names';
import type { StatusFailure } from '../status';
import { failures } from '../status';
import type { ProxyPrincipal } from '../../shared/principal-cache';
import type { RequestedImpersonation } from './scrub';

export type { ProxyPrincipal };

/** Extra keys under our own domain, so cluster audit logs name the gateway user and token. */
export const EXTRA_USER_ID = 'bcs.tencent.com/gateway-user-id';
export const EXTRA_TOKEN_ID = 'bcs.tencent.com/gateway-token-id';

export { kubernetesUserName };

/** Impersonate-Extra keys: lower-case, and characters outside the HTTP token set percent-encoded. */
export function extraHeaderName(key: string): string {
  return `impersonate-extra-${encodeURIComponent(key.toLowerCase()).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

export interface IdentityPolicy {
  /** `turn_on_rbac`: impersonate normal users (off = everyone acts as the cluster credential, like the original). */
  impersonateNormalUsers: boolean;
}

/**
 * Pass 5: the identity the cluster should see. Super users act as the cluster credential and may
 * impersonate whom they like (kubectl --as is passed on). Everyone else is impersonated as themselves,
 * with their groups and attribution extras; asking for another identity is refused.
 */
export function identityHeaders(
  principal: ProxyPrincipal,
  requested: RequestedImpersonation | undefined,
  policy: IdentityPolicy,
): { headers: OutgoingHttpHeaders; impersonated?: string } | StatusFailure {
  if (principal.isSuperUser) {
    if (!requested) return { headers: {} };
    const headers: OutgoingHttpHeaders = {};
    if (requested.user) headers['impersonate-user'] = requested.user;
    if (requested.uid) headers['impersonate-uid'] = requested.uid;
    if (requested.groups.length) headers['impersonate-group'] = requested.groups;
    for (const [key, values] of Object.entries(requested.extra)) headers[`impersonate-extra-${key}`] = values;
    return { headers, impersonated: requested.user };
  }
  if (requested) {
    return failures.forbidden(`users "${kubernetesUserName(principal.userName)}" is forbidden: only gateway super users may impersonate (kubectl --as) through the gateway`);
  }
  if (!policy.impersonateNormalUsers) return { headers: {} };
  const user = kubernetesUserName(principal.userName);
  const headers: OutgoingHttpHeaders = { 'impersonate-user': user };
  const groups = principal.groups.filter((g) => !isReservedKubernetesName(g));
  if (groups.length) headers['impersonate-group'] = groups;
  headers[extraHeaderName(EXTRA_USER_ID)] = String(principal.userId);
  headers[extraHeaderName(EXTRA_TOKEN_ID)] = String(principal.tokenId);
  return { headers, impersonated: user };
}
