import { Arg, Ctx, ID, Int, Mutation, Resolver } from 'type-graphql';
import { issueKubeconfig } from '../../domain/kubeconfig';
import type { GraphqlContext } from '../context';
import { KubeconfigObject } from '../types/kubeconfig.type';

@Resolver()
export class KubeconfigResolver {
  @Mutation(() => KubeconfigObject, { description: 'Issues the caller a new token (type KUBECONFIG) and a kubeconfig using it. It points at public_url, else at the TLS listener (kubectl sends tokens only over TLS) with its CA embedded.' })
  async kubeconfig(
    @Arg('clusterId', () => ID) clusterId: string,
    @Arg('ttl', () => Int, { nullable: true, description: 'Token lifetime in seconds; the configured default when omitted.' }) ttl: number | null,
    @Ctx() { domain, actor, request }: GraphqlContext,
  ): Promise<KubeconfigObject> {
    return KubeconfigObject.from(await issueKubeconfig(domain, actor, actor.user, clusterId, { ttl, requestBaseUrl: request.baseUrl }));
  }
}
