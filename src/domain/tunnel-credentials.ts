import { ref } from '@mikro-orm/core';
import { digestsEqual, sha256Hex } from '../crypto/tokens';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import { Cluster, RegisterToken, TunnelCredential, type ClusterType } from '../store/entities';
import { findLean } from '../store/lean';
import { commitWithChange } from './changes';
import type { DomainContext } from './context';
import { caFingerprint } from './credentials';
import { verifyRegisterToken } from './register-tokens';

const aad = (clusterId: string, field: string): string => `tunnel-credential:${clusterId}:${field}`;

/** How often a process holding tunnels refreshes their rows' heartbeat. */
export const TUNNEL_HEARTBEAT_MS = 15_000;
/** A row not refreshed for this long (three heartbeats) is a dead process's: not shown, and deleted. */
export const TUNNEL_STALE_MS = 45_000;

const freshSince = (ctx: Pick<DomainContext, 'now'>): Date => new Date(ctx.now().getTime() - TUNNEL_STALE_MS);

export interface TunnelCredentialInput {
  /** The gateway process holding the tunnel. */
  ownerId: string;
  serverAddress: string;
  caCertPem: string;
  userToken: string;
  agentAddress?: string;
  connectedAt: Date;
}

/** The same answer for an unknown cluster and a wrong token: a tunnel handshake must not probe for cluster ids. */
const FAILED = 'failed authentication';

/** Who opens a tunnel: a cluster's kube agent, or one of its Mesos or k8s drivers. */
export type TunnelClient = 'kube-agent' | 'mesos-driver' | 'k8s-driver';

/** The cluster types each client serves. */
const SERVES: Record<TunnelClient, { types: readonly ClusterType[]; what: string }> = {
  'kube-agent': { types: ['k8s'], what: 'kube-agent tunnels serve k8s clusters only' },
  'mesos-driver': { types: ['mesos'], what: 'mesos-driver tunnels serve mesos clusters only' },
  'k8s-driver': { types: ['k8s', 'tke'], what: 'k8s-driver tunnels serve k8s and tke clusters only' },
};

/**
 * Checks a tunnel handshake: the cluster exists, is of a type the client serves, and the token is its
 * active register token (the check `PUT /rest/clusters/{id}/credentials` makes). Returns the cluster's
 * canonical id; the token authorises that cluster only. Drivers name the cluster by its BCS id, which
 * is this gateway's cluster id (the original mapped it through `bcs_cluster_infos`).
 */
export async function authorizeTunnel(ctx: DomainContext, clusterId: string, registerToken: string, client: TunnelClient = 'kube-agent'): Promise<string> {
  const cluster = await ctx.em.findOne(Cluster, { id: clusterId });
  if (!cluster) throw new UnauthenticatedError(FAILED, { reason: 'CLUSTER_NOT_FOUND' });
  try {
    await verifyRegisterToken(ctx, cluster.id, registerToken);
  } catch (err) {
    if (err instanceof UnauthenticatedError) throw new UnauthenticatedError(FAILED, err.details);
    throw err;
  }
  const serves = SERVES[client];
  if (!serves.types.includes(cluster.clusterType)) throw new ForbiddenError(`cluster ${cluster.id} is a ${cluster.clusterType} cluster; ${serves.what}`);
  return cluster.id;
}

/** Digest of a presented register token, kept by the tunnel instead of the token itself. */
export const registerTokenDigest = (token: string): string => sha256Hex(token);

/**
 * For each (cluster, token digest) pair, whether that tunnel is no longer authorised: the
 * cluster is gone, or the digest is not its active register token any more (revoked, rotated, expired).
 * One query for any number of clusters.
 */
export async function unauthorizedTunnels(ctx: DomainContext, tunnels: readonly { clusterId: string; digest: string }[]): Promise<boolean[]> {
  if (!tunnels.length) return [];
  const ids = [...new Set(tunnels.map((t) => t.clusterId))];
  const tokens = await ctx.em.find(RegisterToken, { activeFor: { $in: ids } }, { fields: ['activeFor', 'digest', 'expiresAt', 'revokedAt'] });
  const now = ctx.now();
  const active = new Map(tokens.filter((t) => !t.revokedAt && (!t.expiresAt || t.expiresAt > now)).map((t) => [t.activeFor!, t.digest]));
  return tunnels.map((t) => {
    const digest = active.get(t.clusterId);
    return !digest || !digestsEqual(digest, t.digest);
  });
}

/** Stores (or replaces) the credential a tunnel brought, sealed like reported credentials. */
export async function storeTunnelCredential(ctx: DomainContext, clusterId: string, input: TunnelCredentialInput): Promise<void> {
  // One statement: agent replicas of a cluster connect at the same moment, and a read-then-insert would
  // let all but one fail on the unique cluster key.
  await ctx.em.upsert(
    TunnelCredential,
    {
      cluster: ref(Cluster, clusterId),
      serverAddress: input.serverAddress.slice(0, 255),
      caCertSealed: ctx.keyring.seal(input.caCertPem, aad(clusterId, 'ca')),
      caFingerprint: caFingerprint(input.caCertPem),
      userTokenSealed: ctx.keyring.seal(input.userToken, aad(clusterId, 'token')),
      agentAddress: input.agentAddress?.slice(0, 64) ?? null,
      connectedAt: input.connectedAt,
      ownerId: input.ownerId,
      heartbeatAt: ctx.now(),
    },
    { onConflictFields: ['cluster'], onConflictAction: 'merge', onConflictExcludeFields: ['id'] },
  );
  await commitWithChange(ctx, 'credential', clusterId);
}

/**
 * Removes the credential of a tunnel that went away, unless a newer tunnel of the cluster has stored
 * its own since (`connectedAt` later than the one that closed).
 */
export async function removeTunnelCredential(ctx: DomainContext, clusterId: string, connectedAt: Date): Promise<boolean> {
  const removed = await ctx.em.nativeDelete(TunnelCredential, { cluster: clusterId, connectedAt: { $lte: connectedAt } });
  if (removed) await commitWithChange(ctx, 'credential', clusterId);
  return removed > 0;
}

/**
 * Refreshes the heartbeat of the rows of the clusters this process holds tunnels of, in one statement,
 * and returns the clusters that have no row (removed by another process's closing tunnel, or pruned
 * while the store was unreachable), for the caller to store again.
 */
export async function refreshTunnelHeartbeats(ctx: DomainContext, clusterIds: readonly string[]): Promise<string[]> {
  if (!clusterIds.length) return [];
  const ids = [...new Set(clusterIds)];
  const updated = await ctx.em.nativeUpdate(TunnelCredential, { cluster: { $in: ids } }, { heartbeatAt: ctx.now() });
  if (updated >= ids.length) return [];
  const present = await ctx.em.find(TunnelCredential, { cluster: { $in: ids } }, { fields: ['cluster'] });
  const have = new Set(present.map((r) => r.cluster.id));
  return ids.filter((id) => !have.has(id));
}

/**
 * Deletes the rows whose heartbeat is older than TUNNEL_STALE_MS (their process died without removing
 * them); returns the clusters they were for.
 */
export async function pruneStaleTunnelCredentials(ctx: DomainContext): Promise<string[]> {
  const stale = { $or: [{ heartbeatAt: null }, { heartbeatAt: { $lt: freshSince(ctx) } }] };
  const rows = await ctx.em.find(TunnelCredential, stale, { fields: ['cluster'] });
  if (!rows.length) return [];
  await ctx.em.nativeDelete(TunnelCredential, { id: { $in: rows.map((r) => r.id) }, ...stale });
  const clusters = [...new Set(rows.map((r) => r.cluster.id))];
  for (const id of clusters) await commitWithChange(ctx, 'credential', id);
  return clusters;
}

/** The cluster's tunnel credential, if a live process holds its tunnel (a stale row is not returned). */
export async function findTunnelCredential(ctx: DomainContext, clusterId: string): Promise<TunnelCredential | null> {
  return ctx.em.findOne(TunnelCredential, { cluster: clusterId, heartbeatAt: { $gte: freshSince(ctx) } });
}

/** The stored tunnel credential, opened (the proxy's view, and tests'). */
export function openTunnelCredential(ctx: Pick<DomainContext, 'keyring'>, cred: TunnelCredential): { serverAddress: string; caCertPem: string; userToken: string } {
  const clusterId = cred.cluster.id;
  return { serverAddress: cred.serverAddress, caCertPem: ctx.keyring.open(cred.caCertSealed, aad(clusterId, 'ca')), userToken: ctx.keyring.open(cred.userTokenSealed, aad(clusterId, 'token')) };
}

/** What operators see of a connected tunnel: never its CA or token. */
export interface TunnelStatus {
  connectedAt: Date;
  apiserverAddress: string;
  agentAddress: string | null;
  caFingerprint: string;
}

/** Batch read for list views: one query for any number of clusters. Stale rows read as no tunnel. */
export async function tunnelStatuses(ctx: Pick<DomainContext, 'em' | 'now'>, clusterIds: readonly string[]): Promise<(TunnelStatus | null)[]> {
  const rows = await findLean(ctx.em, TunnelCredential, { cluster: { $in: [...clusterIds] }, heartbeatAt: { $gte: freshSince(ctx) } }, { fields: ['cluster', 'serverAddress', 'connectedAt', 'agentAddress', 'caFingerprint'] });
  const byCluster = new Map(rows.map((r) => [r.cluster, r]));
  return clusterIds.map((id) => {
    const r = byCluster.get(id);
    return r ? { connectedAt: r.connectedAt, apiserverAddress: r.serverAddress, agentAddress: r.agentAddress ?? null, caFingerprint: r.caFingerprint } : null;
  });
}
