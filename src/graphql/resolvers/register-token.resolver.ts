import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { getCluster } from '../../domain/clusters';
import { createRegisterToken, readRegisterToken, revokeRegisterToken, rotateRegisterToken } from '../../domain/register-tokens';
import { Role } from '../auth-checker';
import type { GraphqlContext } from '../context';
import { ClusterObject } from '../types/cluster.type';
import { RegisterTokenSecretObject } from '../types/register-token.type';

/** Each mutation forgets the cached status, so the same operation reads the new state back. */
@Authorized(Role.SuperUser)
@Resolver()
export class RegisterTokenResolver {
  @Query(() => RegisterTokenSecretObject, { description: "The cluster's active register token with its secret (as the original allows super users)." })
  async registerToken(@Arg('clusterId', () => ID) clusterId: string, @Ctx() { domain, actor }: GraphqlContext): Promise<RegisterTokenSecretObject> {
    return RegisterTokenSecretObject.from(await readRegisterToken(domain, actor, clusterId));
  }

  @Mutation(() => RegisterTokenSecretObject, { description: 'CONFLICT when the cluster already has an active token; rotate it instead.' })
  async createRegisterToken(
    @Arg('clusterId', () => ID) clusterId: string,
    @Arg('ttl', () => Int, { nullable: true, description: 'Lifetime in seconds; no expiry when omitted.' }) ttl: number | null,
    @Ctx() { domain, actor, loaders }: GraphqlContext,
  ): Promise<RegisterTokenSecretObject> {
    const view = await createRegisterToken(domain, actor, clusterId, ttl);
    loaders.registerTokenStatus.clear(clusterId);
    return RegisterTokenSecretObject.from(view);
  }

  @Mutation(() => RegisterTokenSecretObject, { description: 'Revokes the active token (if any) and creates a new one, atomically.' })
  async rotateRegisterToken(
    @Arg('clusterId', () => ID) clusterId: string,
    @Arg('ttl', () => Int, { nullable: true, description: 'Lifetime in seconds; no expiry when omitted.' }) ttl: number | null,
    @Ctx() { domain, actor, loaders }: GraphqlContext,
  ): Promise<RegisterTokenSecretObject> {
    const view = await rotateRegisterToken(domain, actor, clusterId, ttl);
    loaders.registerTokenStatus.clear(clusterId);
    return RegisterTokenSecretObject.from(view);
  }

  @Mutation(() => ClusterObject, { description: 'NOT_FOUND when the cluster has no active token. Returns the cluster.' })
  async revokeRegisterToken(@Arg('clusterId', () => ID) clusterId: string, @Ctx() { domain, actor, loaders }: GraphqlContext): Promise<ClusterObject> {
    await revokeRegisterToken(domain, actor, clusterId);
    loaders.registerTokenStatus.clear(clusterId);
    return ClusterObject.from(await getCluster(domain, clusterId));
  }
}
