import { ref, UniqueConstraintViolationException, type FilterQuery } from '@mikro-orm/core';
import { randomAlphanumeric } from '../crypto/tokens';
import { NotFoundError, ValidationError } from '../errors';
import { Cluster, RbacGrant, RbacSyncStatus, type ClusterProvider, type ClusterType } from '../store/entities';
import { requireSuperUser } from './authorize';
import { commitWithChange } from './changes';
import { claimableIdentifier, clustersByKeys, conflictAfterRace, keysOf, releaseKeys } from './cluster-keys';
import type { DomainContext, Principal } from './context';
import type { Lean } from '../store/lean';
import { findLeanPage, type Page, type PageArgs } from './pagination';
import { optionalString, requireName } from './validate';

export const CLUSTER_TYPES: readonly ClusterType[] = ['k8s', 'mesos', 'tke'];

export interface CreateClusterInput {
  id: string;
  clusterType?: string | null;
  provider?: ClusterProvider;
  projectId?: string | null;
  tkeClusterId?: string | null;
  tkeClusterRegion?: string | null;
}

export function parseClusterType(value: string | null | undefined): ClusterType {
  // The original treats an empty type as k8s.
  if (value === undefined || value === null || value === '') return 'k8s';
  const t = value.toLowerCase();
  if (!(CLUSTER_TYPES as readonly string[]).includes(t)) {
    throw new ValidationError('cluster_type', `field 'cluster_type' must be one of ${CLUSTER_TYPES.join(', ')} (got "${value}")`);
  }
  return t as ClusterType;
}

export interface CreateClusterOptions {
  /** The random part of the tunnel identifier (tests draw colliding ones on purpose). */
  identifierSuffix?: () => string;
}

const randomSuffix = (): string => randomAlphanumeric(16);

/**
 * Creates a cluster under the id its creator chose. Only super users may register clusters. The id and
 * the generated identifier must be free in the shared key namespace (see cluster-keys.ts); the cluster
 * and its keys are written in one flush, so a concurrent creation of a colliding id loses on the keys'
 * primary key whatever the database's collation.
 */
export async function createCluster(ctx: DomainContext, actor: Principal | undefined, input: CreateClusterInput, opts: CreateClusterOptions = {}): Promise<Cluster> {
  if (actor) requireSuperUser(actor, 'create clusters');
  const id = requireName('id', input.id, 100);
  const cluster = new Cluster();
  cluster.id = id;
  cluster.clusterType = parseClusterType(input.clusterType);
  cluster.provider = input.provider ?? 'bcs';
  cluster.projectId = optionalString('project_id', input.projectId, 64) ?? null;
  cluster.tkeClusterId = optionalString('tke_cluster_id', input.tkeClusterId, 100) ?? null;
  cluster.tkeClusterRegion = optionalString('tke_cluster_region', input.tkeClusterRegion, 100) ?? null;
  if (cluster.clusterType === 'tke' && (!cluster.tkeClusterId || !cluster.tkeClusterRegion)) {
    throw new ValidationError('tke_cluster_id', "tke clusters need 'tke_cluster_id' and 'tke_cluster_region'");
  }
  cluster.identifier = await claimableIdentifier(ctx.em, id, opts.identifierSuffix ?? randomSuffix);
  cluster.creator = actor ? ref(actor.user) : null;
  cluster.createdAt = ctx.now();
  try {
    ctx.em.persist([cluster, ...keysOf(cluster)]);
    // Announced so caches that remembered this id as unknown forget it.
    await commitWithChange(ctx, 'cluster', id);
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw await conflictAfterRace(ctx.em.fork(), id);
    throw err;
  }
  return cluster;
}

export async function getCluster(ctx: DomainContext, id: string): Promise<Cluster> {
  const cluster = await ctx.em.findOne(Cluster, { id });
  if (!cluster) throw new NotFoundError('cluster', id);
  return cluster;
}

/**
 * Tunnel paths name a cluster by id or by identifier, without regard to case. Every match is returned:
 * more than one means rows that collided before ids and identifiers shared a namespace, and the caller
 * must refuse the key rather than pick one. It reads the clusters themselves, not the key table, so a
 * collision an operator resolves by hand in the database is seen at the next look-up.
 */
export async function findClustersByIdOrIdentifier(ctx: DomainContext, key: string): Promise<Cluster[]> {
  return clustersByKeys(ctx.em, [key]);
}

export interface ClusterFilter {
  idContains?: string | null;
  projectId?: string | null;
  clusterType?: string | null;
}

/** Every authenticated user may list clusters (not their credentials). */
export async function listClusters(ctx: DomainContext, filter: ClusterFilter, page: PageArgs): Promise<Page<Lean<Cluster>>> {
  const where: FilterQuery<Cluster> = {};
  if (filter.idContains) where.id = { $like: `%${filter.idContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
  if (filter.projectId) where.projectId = filter.projectId;
  if (filter.clusterType) where.clusterType = parseClusterType(filter.clusterType);
  return findLeanPage(ctx.em, Cluster, where, 'id', 'string', page);
}

/**
 * Deletes a cluster with its register tokens and credentials (database cascade), its grants and its RBAC
 * sync status: a cluster registered later under the same id starts with no permissions.
 */
export async function deleteCluster(ctx: DomainContext, actor: Principal, id: string): Promise<Cluster> {
  requireSuperUser(actor, 'delete clusters');
  const cluster = await getCluster(ctx, id);
  const { identifier } = cluster;
  await ctx.em.transactional(async (em) => {
    await em.nativeDelete(RbacGrant, { clusterId: id });
    await em.nativeDelete(RbacSyncStatus, { clusterId: id });
    await releaseKeys(em, cluster);
    em.remove(cluster);
  });
  await commitWithChange(ctx, 'cluster', id);
  await commitWithChange(ctx, 'rbac', id);
  ctx.changes.publish('cluster', identifier);
  return cluster;
}
