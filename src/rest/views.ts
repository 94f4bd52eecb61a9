/**
 * The original's /rest JSON shapes (§7.3). `User`, `UserToken` and `ClusterCredentials` have no JSON
 * tags in Go, so their keys are the Go field names; `Cluster` and `RegisterToken` use snake_case tags.
 */
import type { ClusterSecrets } from '../domain/credentials';
import { tunnelPath } from '../domain/kubeconfig';
import type { ApiToken, ApiTokenType, Cluster, ClusterProvider, RegisterToken, User } from '../store/entities';
import { goTime } from './render';

/** models.Cluster.Provider: 1 plain, 2 bcs. */
const PROVIDER: Record<ClusterProvider, number> = { plain: 1, bcs: 2 };
/** models.UserToken.Type: 1 session, 2 PaaS kubeconfig (not issued here), 3 plain kubeconfig. */
const TOKEN_TYPE: Record<ApiTokenType, number> = { session: 1, plain: 3, kubeconfig: 3 };

export function userView(u: User): Record<string, unknown> {
  return { ID: u.id, Name: u.name, IsSuperUser: u.isSuperUser, CreatedAt: goTime(u.createdAt), BackendType: '', BackendCredentials: null };
}

/** `secret` is the token as issued: it is shown once, the store keeps only its digest. */
export function userTokenView(t: ApiToken, secret: string): Record<string, unknown> {
  return { ID: t.id, UserId: t.user.id, Type: TOKEN_TYPE[t.type], Value: secret, ExpiresAt: goTime(t.expiresAt ?? null), CreatedAt: goTime(t.createdAt) };
}

export function clusterView(c: Cluster): Record<string, unknown> {
  return { id: c.id, provider: PROVIDER[c.provider], creator_id: c.creator?.id ?? 0, identifier: c.identifier, created_at: goTime(c.createdAt) };
}

export function registerTokenView(t: RegisterToken, secret: string): Record<string, unknown> {
  return { id: t.id, cluster_id: t.cluster.id, token: secret, created_at: goTime(t.createdAt) };
}

export function credentialsView(s: ClusterSecrets): Record<string, unknown> {
  return {
    ID: s.id,
    ClusterId: s.clusterId,
    ServerAddresses: s.serverAddresses.join(';'),
    CaCertData: s.caCertData,
    UserToken: s.userToken,
    ClusterDomain: s.clusterDomain ?? '',
    CreatedAt: goTime(s.createdAt),
    UpdatedAt: goTime(s.updatedAt),
  };
}

/** The path under which kubectl reaches a cluster through this gateway. */
export function serverAddressPath(c: Cluster): string {
  return `${tunnelPath(c)}/`;
}
