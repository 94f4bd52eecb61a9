import { Field, Int, ObjectType } from 'type-graphql';
import type { KubeconfigResult } from '../../domain/kubeconfig';

@ObjectType('Kubeconfig', { description: "A kubeconfig for one cluster through this gateway, holding a fresh token of the caller's." })
export class KubeconfigObject {
  @Field({ description: 'The kubeconfig document (YAML).' })
  kubeconfig!: string;

  @Field({ description: "The gateway's tunnel URL for the cluster." })
  server!: string;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => Int, { description: 'Id of the embedded token, to revoke it with revokeToken.' })
  tokenId!: number;

  static from(result: KubeconfigResult): KubeconfigObject {
    return Object.assign(new KubeconfigObject(), {
      kubeconfig: result.kubeconfig,
      server: result.server,
      expiresAt: result.expiresAt,
      tokenId: result.tokenId,
    });
  }
}
