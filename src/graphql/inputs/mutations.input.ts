import { ArrayMaxSize } from 'class-validator';
import { Field, ID, InputType, Int } from 'type-graphql';
import { ClusterKind, ClusterProviderKind } from '../types/cluster.type';
import { UserKind } from '../types/user.type';

/** Names, lengths and TTL bounds are checked by the domain, which every edge shares. */
@InputType()
export class CreateUserInput {
  @Field()
  name!: string;

  @Field(() => Boolean, { nullable: true, description: 'Defaults to true for ADMIN users, false otherwise.' })
  isSuperUser?: boolean | null;

  @Field(() => UserKind, { nullable: true })
  userType?: UserKind | null;

  @Field(() => [String], { nullable: true })
  @ArrayMaxSize(100)
  groups?: string[] | null;
}

@InputType()
export class IssueTokenInput {
  @Field(() => Int, { nullable: true, description: 'Whose token; the caller when omitted. Only super users may name someone else.' })
  userId?: number | null;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => Int, { nullable: true, description: 'Lifetime in seconds; the configured default when omitted, capped by the configured maximum.' })
  ttl?: number | null;
}

@InputType()
export class CreateClusterInput {
  @Field(() => ID, { description: 'Letters, digits and - _ . : @, up to 100 characters.' })
  id!: string;

  @Field(() => ClusterKind, { nullable: true, description: 'K8S when omitted.' })
  clusterType?: ClusterKind | null;

  @Field(() => ClusterProviderKind, { nullable: true, description: 'BCS when omitted.' })
  provider?: ClusterProviderKind | null;

  @Field(() => String, { nullable: true })
  projectId?: string | null;

  @Field(() => String, { nullable: true, description: 'Required for TKE clusters.' })
  tkeClusterId?: string | null;

  @Field(() => String, { nullable: true, description: 'Required for TKE clusters.' })
  tkeClusterRegion?: string | null;
}
