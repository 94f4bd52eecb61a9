import type { EntityManager } from '@mikro-orm/core';
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
  const rows = await findLeanIn(em, RegisterToken, 'activeFor', clusterIds, ['activeFor', 'createdAt', 'expiresAt', 'revokedAt']);
  const byCluster = new Map(rows.map((r) => [r.activeFor!, r]));
  return clusterIds.map((id) => {
    const r = byCluster.get(id);
    if (!r) return null;
    return { active: !r.revokedAt && (!r.expiresAt || r.expiresAt > now), createdAt: r.createdAt, expiresAt: r.expiresAt ?? null };
  });
}

export async function credentialStatuses(em: EntityManager, clusterIds: readonly string[]): Promise<(CredentialStatus | null)[]> {
  const rows = await findLeanIn(em, ClusterCredential, 'cluster', clusterIds, ['cluster', 'serverAddresses', 'reportedAt', 'caFingerprint', 'reporterAddress']);
  const byCluster = new Map(rows.map((r) => [r.cluster, r]));
  return clusterIds.map((id) => {
    const r = byCluster.get(id);
    return r ? { serverAddresses: r.serverAddresses, reportedAt: r.reportedAt, caFingerprint: r.caFingerprint, reporterAddress: r.reporterAddress ?? null } : null;
  });
}

export async function usersByIds(em: EntityManager, ids: readonly number[]): Promise<(Lean<User> | null)[]> {
  const rows = await findLeanIn(em, User, 'id', ids);
  const byId = new Map(rows.map((u) => [u.id, u]));
  return ids.map((id) => byId.get(id) ?? null);
}
