import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Info, Mutation, Query, Resolver, Root } from 'type-graphql';
import { clusterDetails, type ClusterDetail } from '../../domain/batch';
import { createCluster, deleteCluster, getCluster, listClusters } from '../../domain/clusters';
import { requireSuperUserField, Role } from '../auth-checker';
import type { GraphqlContext } from '../context';
import { ClusterFilter } from '../inputs/filters.input';
import { selectedFieldsAt } from '../lookahead';
import { CreateClusterInput } from '../inputs/mutations.input';
import { PageArgs } from '../inputs/page.args';
import { ClusterConnection, ClusterObject } from '../types/cluster.type';
import { ClusterReach, CredentialStatusObject, RegisterTokenStatusObject, TunnelStatusObject } from '../types/cluster-status.type';
import { UserObject } from '../types/user.type';

@Resolver(() => ClusterObject)
export class ClusterResolver {
  @Query(() => ClusterConnection, { description: 'Every caller may list clusters; their secrets and statuses are for super users.' })
  async clusters(
    @Args() page: PageArgs,
    @Arg('filter', () => ClusterFilter, { nullable: true }) filter: ClusterFilter | null,
    @Ctx() ctx: GraphqlContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ClusterConnection> {
    const connection = ClusterConnection.from(await listClusters(ctx.domain, filter ?? {}, page), ClusterObject.fromRow);
    await prefetchRowFields(ctx, info, connection.edges.map((edge) => edge.node));
    return connection;
  }

  @Query(() => ClusterObject)
  async cluster(@Arg('id', () => ID) id: string, @Ctx() { domain }: GraphqlContext): Promise<ClusterObject> {
    return ClusterObject.from(await getCluster(domain, id));
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => ClusterObject)
  async createCluster(@Arg('input', () => CreateClusterInput) input: CreateClusterInput, @Ctx() { domain, actor }: GraphqlContext): Promise<ClusterObject> {
    const cluster = await createCluster(domain, actor, {
      id: input.id,
      clusterType: input.clusterType,
      provider: input.provider ?? undefined,
      projectId: input.projectId,
      tkeClusterId: input.tkeClusterId,
      tkeClusterRegion: input.tkeClusterRegion,
    });
    return ClusterObject.from(cluster);
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => ClusterObject, { description: 'Deletes the cluster with its register tokens and credentials; returns it as it was.' })
  async deleteCluster(@Arg('id', () => ID) id: string, @Ctx() { domain, actor }: GraphqlContext): Promise<ClusterObject> {
    const snapshot = ClusterObject.from(await getCluster(domain, id));
    await deleteCluster(domain, actor, id);
    return snapshot;
  }

  // The row fields below check the role in the body rather than with @Authorized (see requireSuperUserField).
  @FieldResolver(() => UserObject, { nullable: true, description: 'Null when the creator was deleted or the process created it.' })
  creator(@Root() cluster: ClusterObject, @Ctx() ctx: GraphqlContext): UserObject | null | Promise<UserObject | null> {
    requireSuperUserField(ctx);
    if (cluster.creatorId === null) return null;
    return ctx.loaders.user.map(cluster.creatorId, (user) => (user ? UserObject.from(user) : null));
  }

  @FieldResolver(() => RegisterTokenStatusObject, { nullable: true, description: 'Null when the cluster has no current register token.' })
  registerTokenStatus(@Root() cluster: ClusterObject, @Ctx() ctx: GraphqlContext): RegisterTokenStatusObject | null | Promise<RegisterTokenStatusObject | null> {
    requireSuperUserField(ctx);
    return ctx.loaders.registerTokenStatus.map(cluster.id, (status) => (status ? RegisterTokenStatusObject.from(status) : null));
  }

  @FieldResolver(() => CredentialStatusObject, { nullable: true, description: 'Null until the agent has reported.' })
  credentialStatus(@Root() cluster: ClusterObject, @Ctx() ctx: GraphqlContext): CredentialStatusObject | null | Promise<CredentialStatusObject | null> {
    requireSuperUserField(ctx);
    return ctx.loaders.credentialStatus.map(cluster.id, (status) => (status ? CredentialStatusObject.from(status) : null));
  }

  @FieldResolver(() => TunnelStatusObject, { nullable: true, description: 'Null while no agent tunnel of the cluster is connected.' })
  tunnel(@Root() cluster: ClusterObject, @Ctx() ctx: GraphqlContext): TunnelStatusObject | null | Promise<TunnelStatusObject | null> {
    requireSuperUserField(ctx);
    return ctx.loaders.tunnelStatus.map(cluster.id, (status) => (status ? TunnelStatusObject.from(status) : null));
  }

  @FieldResolver(() => ClusterReach, { nullable: true, description: 'Null while the cluster can be reached neither way (no report, no tunnel).' })
  async reachedVia(@Root() cluster: ClusterObject, @Ctx() ctx: GraphqlContext): Promise<ClusterReach | null> {
    requireSuperUserField(ctx);
    const { loaders } = ctx;
    const [tunnel, credential] = await Promise.all([loaders.tunnelStatus.load(cluster.id), loaders.credentialStatus.load(cluster.id)]);
    if (tunnel) return ClusterReach.TUNNEL;
    return credential ? ClusterReach.DIRECT : null;
  }
}

/**
 * A super user's page reads the selected row fields before the rows complete, so the row resolvers
 * answer without a promise (see PrefetchLoader): creator and statuses in one statement, the tunnels in
 * another. Other callers are refused those fields row by row, so nothing is read for them. Should the
 * joined read fail, the rows' loaders read (and fail) as they would without it.
 */
async function prefetchRowFields(ctx: GraphqlContext, info: GraphQLResolveInfo, rows: ClusterObject[]): Promise<void> {
  if (!ctx.actor.user.isSuperUser || rows.length === 0) return;
  const fields = selectedFieldsAt(info, ['edges', 'node']);
  const ids = rows.map((row) => row.id);
  const { loaders } = ctx;
  const wanted = new Set(DETAILS.filter((detail) => fields.has(detail) || (detail === 'credentialStatus' && fields.has('reachedVia'))));
  const loads: Promise<void>[] = [];
  if (wanted.size) {
    const creators = new Map(rows.map((row) => [row.id, row.creatorId]));
    const primed = clusterDetails(ctx.domain.em, ids, wanted, ctx.domain.now()).then((details) => {
      for (const d of details) {
        const creatorId = creators.get(d.clusterId);
        if (d.creator !== undefined && creatorId != null) loaders.user.prime(creatorId, d.creator);
        if (d.registerTokenStatus !== undefined) loaders.registerTokenStatus.prime(d.clusterId, d.registerTokenStatus);
        if (d.credentialStatus !== undefined) loaders.credentialStatus.prime(d.clusterId, d.credentialStatus);
      }
    });
    loads.push(primed.catch(() => undefined));
  }
  if (fields.has('tunnel') || fields.has('reachedVia')) loads.push(loaders.tunnelStatus.prefetch(ids));
  await Promise.all(loads);
}

const DETAILS: readonly ClusterDetail[] = ['creator', 'registerTokenStatus', 'credentialStatus'];
