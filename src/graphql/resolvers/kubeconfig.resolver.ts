import { Arg, Ctx, ID, Int, Mutation, Resolver } from 'type-graphql';
import { issueKubeconfig } from '../../domain/kubeconfig';
import type { GraphqlContext } from '../context';
import { KubeconfigObject } from '../types/kubeconfig.type';

@Resolver()
export class KubeconfigResolver {
  @Mutation(() => KubeconfigObject, { description: 'Issues the caller a new token (type KUBECONFIG) and a kubeconfig using it.' })
  async kubeconfig(
    @Arg('clusterId', () => ID) clusterId: string,
    @Arg('ttl', () => Int, { nullable: true, description: 'Token lifetime in seconds; the configured default when omitted.' }) ttl: number | null,
    @Ctx() { domain, actor, request }: GraphqlContext,
  ): Promise<KubeconfigObject> {
    return KubeconfigObject.from(await issueKubeconfig(domain, actor, clusterId, ttl, request.baseUrl));
  }
}
