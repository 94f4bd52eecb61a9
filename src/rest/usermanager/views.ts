/** bcs-user-manager v1 `data` shapes (§13.2): snake_case, numeric user and cluster types. */
import type { ClusterSecrets } from '../../domain/credentials';
import type { ApiToken, Cluster, ClusterType, User, UserType } from '../../store/entities';
import { goTime } from '../render';

const USER_TYPE: Record<UserType, number> = { admin: 1, saas: 2, plain: 3 };
const CLUSTER_TYPE: Record<ClusterType, number> = { k8s: 1, mesos: 2, tke: 3 };

/** `secret` is the token issued by this call (shown once); `createdBy` is known only at creation. */
export function umUserView(u: User, token: ApiToken, secret: string, createdBy: string): Record<string, unknown> {
  return {
    id: u.id,
    name: u.name,
    user_type: USER_TYPE[u.userType],
    user_token: secret,
    created_by: createdBy,
    created_at: goTime(u.createdAt),
    updated_at: goTime(u.updatedAt),
    expires_at: goTime(token.expiresAt ?? null),
    deleted_at: goTime(u.disabledAt ?? null),
  };
}

export function umClusterView(c: Cluster): Record<string, unknown> {
  return {
    id: c.id,
    cluster_type: CLUSTER_TYPE[c.clusterType],
    tke_cluster_id: c.tkeClusterId ?? '',
    tke_cluster_region: c.tkeClusterRegion ?? '',
    creator_id: c.creator?.id ?? 0,
    created_at: goTime(c.createdAt),
  };
}

/** The user-manager returns the register token in the same shape as /rest (one object, not a list). */
export { registerTokenView as umRegisterTokenView } from '../views';

export function umCredentialsView(s: ClusterSecrets): Record<string, unknown> {
  return {
    id: s.id,
    cluster_id: s.clusterId,
    server_addresses: s.serverAddresses.join(';'),
    ca_cert_data: s.caCertData,
    user_token: s.userToken,
    cluster_domain: s.clusterDomain ?? '',
    created_at: goTime(s.createdAt),
    updated_at: goTime(s.updatedAt),
  };
}

/** `GET /v1/clusters/credentials`: every cluster's credentials keyed by cluster id. */
export function umAllCredentialsView(all: ClusterSecrets[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of all) {
    out[s.clusterId] = { server_addresses: s.serverAddresses.join(';'), ca_cert_data: s.caCertData, user_token: s.userToken, cluster_domain: s.clusterDomain ?? '' };
  }
  return out;
}
