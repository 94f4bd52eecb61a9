import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { createCluster, deleteCluster, getCluster, listClusters } from '../../domain/clusters';
import { requireSuperUserField, Role } from '../auth-checker';
import type { GraphqlContext } from '../context';
import { ClusterFilter } from '../inputs/filters.input';
import { CreateClusterInput } from '../inputs/mutations.input';
import { PageArgs } from '../inputs/page.args';
import { ClusterConnection, ClusterObject } from '../types/cluster.type';
import { ClusterReach, CredentialStatusObject, RegisterTokenStatusObject, TunnelStatusObject } from '../types/cluster-status.type';
import { UserObject } from '../types/user.type';

@Resolver(() => ClusterObject)
export class ClusterResolver {
  @Query(() => ClusterConnection, { description: 'Every caller may list clusters; their secrets and statuses are for super users.' })
  async clusters(@Args() page: PageArgs, @Arg('filter', () => ClusterFilter, { nullable: true }) filter: ClusterFilter | null, @Ctx() { domain }: GraphqlContext): Promise<ClusterConnection> {
    return ClusterConnection.from(await listClusters(domain, filter ?? {}, page), ClusterObject.fromRow);
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
  creator(@Root() cluster: ClusterObject, @Ctx() ctx: GraphqlContext): Promise<UserObject | null> | null {
    requireSuperUserField(ctx);
    if (cluster.creatorId === null) return null;
    return ctx.loaders.user.load(cluster.creatorId).then((user) => (user ? UserObject.from(user) : null));
  }

  @FieldResolver(() => RegisterTokenStatusObject, { nullable: true, description: 'Null when the cluster has no current register token.' })
  registerTokenStatus(@Root() cluster: ClusterObject, @Ctx() ctx: GraphqlContext): Promise<RegisterTokenStatusObject | null> {
    requireSuperUserField(ctx);
    return ctx.loaders.registerTokenStatus.load(cluster.id).then((status) => (status ? RegisterTokenStatusObject.from(status) : null));
  }

  @FieldResolver(() => CredentialStatusObject, { nullable: true, description: 'Null until the agent has reported.' })
  credentialStatus(@Root() cluster: ClusterObject, @Ctx() ctx: GraphqlContext): Promise<CredentialStatusObject | null> {
    requireSuperUserField(ctx);
    return ctx.loaders.credentialStatus.load(cluster.id).then((status) => (status ? CredentialStatusObject.from(status) : null));
  }

  @FieldResolver(() => TunnelStatusObject, { nullable: true, description: 'Null while no agent tunnel of the cluster is connected.' })
  tunnel(@Root() cluster: ClusterObject, @Ctx() ctx: GraphqlContext): Promise<TunnelStatusObject | null> {
    requireSuperUserField(ctx);
    return ctx.loaders.tunnelStatus.load(cluster.id).then((status) => (status ? TunnelStatusObject.from(status) : null));
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
