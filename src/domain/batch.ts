import type { EntityManager } from '@mikro-orm/core';
import { CREDENTIAL_STATUS_FIELDS, findClusterRelations, REGISTER_TOKEN_STATUS_FIELDS, type ClusterRelation, type ClusterRelationRows } from '../store/cluster-relations';
import { ClusterCredential, RegisterToken, User } from '../store/entities';
import { findLeanIn, type Lean } from '../store/lean';

/**
 * Batch readers for per-request DataLoaders: one query per batch of keys, results in key order.
 * Secrets stay sealed; only status fields are read, as plain rows (no entities).
 */
export interface RegisterTokenStatus {
  active: boolean;
  createdAt: Date;
  expiresAt: Date | null;
}

export interface CredentialStatus {
  serverAddresses: string[];
  reportedAt: Date;
  caFingerprint: string;
  reporterAddress: string | null;
}

export async function registerTokenStatuses(em: EntityManager, clusterIds: readonly string[], now: Date): Promise<(RegisterTokenStatus | null)[]> {
  const rows = await findLeanIn(em, RegisterToken, 'activeFor', clusterIds, REGISTER_TOKEN_STATUS_FIELDS);
  const byCluster = new Map(rows.map((r) => [r.activeFor!, r]));
  return clusterIds.map((id) => registerTokenStatus(byCluster.get(id), now));
}

function registerTokenStatus(r: ClusterRelationRows['registerToken'] | undefined, now: Date): RegisterTokenStatus | null {
  return r ? { active: !r.revokedAt && (!r.expiresAt || r.expiresAt > now), createdAt: r.createdAt, expiresAt: r.expiresAt ?? null } : null;
}

export async function credentialStatuses(em: EntityManager, clusterIds: readonly string[]): Promise<(CredentialStatus | null)[]> {
  const rows = await findLeanIn(em, ClusterCredential, 'cluster', clusterIds, CREDENTIAL_STATUS_FIELDS);
  const byCluster = new Map(rows.map((r) => [r.cluster, r]));
  return clusterIds.map((id) => credentialStatus(byCluster.get(id)));
}

function credentialStatus(r: ClusterRelationRows['credential'] | undefined): CredentialStatus | null {
  return r ? { serverAddresses: r.serverAddresses, reportedAt: r.reportedAt, caFingerprint: r.caFingerprint, reporterAddress: r.reporterAddress ?? null } : null;
}

export async function usersByIds(em: EntityManager, ids: readonly number[]): Promise<(Lean<User> | null)[]> {
  const rows = await findLeanIn(em, User, 'id', ids);
  const byId = new Map(rows.map((u) => [u.id, u]));
  return ids.map((id) => byId.get(id) ?? null);
}

export type ClusterDetail = 'creator' | 'registerTokenStatus' | 'credentialStatus';

export interface ClusterDetails {
  clusterId: string;
  creator?: Lean<User> | null;
  registerTokenStatus?: RegisterTokenStatus | null;
  credentialStatus?: CredentialStatus | null;
}

const RELATION_OF: Record<ClusterDetail, ClusterRelation> = { creator: 'creator', registerTokenStatus: 'registerToken', credentialStatus: 'credential' };

/**
 * The batch readers above for the same clusters at once, in one statement: a page of clusters showing
 * several of them reads them together. Only the details asked for are set.
 */
export async function clusterDetails(em: EntityManager, clusterIds: readonly string[], wanted: ReadonlySet<ClusterDetail>, now: Date): Promise<ClusterDetails[]> {
  const rows = await findClusterRelations(em, clusterIds, new Set([...wanted].map((d) => RELATION_OF[d])));
  return clusterIds.map((clusterId) => {
    const row = rows.get(clusterId);
    const details: ClusterDetails = { clusterId };
    if (wanted.has('creator')) details.creator = row?.creator ?? null;
    if (wanted.has('registerTokenStatus')) details.registerTokenStatus = registerTokenStatus(row?.registerToken ?? undefined, now);
    if (wanted.has('credentialStatus')) details.credentialStatus = credentialStatus(row?.credential ?? undefined);
    return details;
  });
}
