import { MaxLength } from 'class-validator';
import { Field, InputType, Int } from 'type-graphql';
import { ClusterKind } from '../types/cluster.type';

/** Substring filters go into LIKE patterns; the lengths keep them to what a column can hold. */
@InputType()
export class UserFilter {
  @Field(() => String, { nullable: true })
  @MaxLength(255)
  nameContains?: string | null;

  @Field(() => Boolean, { nullable: true })
  isSuperUser?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'true: only disabled users; false: only enabled ones.' })
  disabled?: boolean | null;
}

@InputType()
export class TokenFilter {
  @Field(() => Int, { nullable: true, description: "Whose tokens; the caller's own when omitted (all users' for super users)." })
  userId?: number | null;

  @Field(() => Boolean, { nullable: true })
  includeRevoked?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  includeExpired?: boolean | null;
}

@InputType()
export class ClusterFilter {
  @Field(() => String, { nullable: true })
  @MaxLength(100)
  idContains?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(64)
  projectId?: string | null;

  @Field(() => ClusterKind, { nullable: true })
  clusterType?: ClusterKind | null;
}
