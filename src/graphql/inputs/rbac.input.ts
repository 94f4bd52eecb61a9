import { MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { GrantScopeEnum, GrantSourceEnum, GrantSubjectKindEnum } from '../types/rbac-grant.type';

@InputType()
export class CreateRbacGrantInput {
  @Field(() => GrantSubjectKindEnum)
  subjectKind!: GrantSubjectKindEnum;

  @Field({ description: 'A gateway user name (USER) or a group name (GROUP). system: names are refused.' })
  @MaxLength(128)
  subjectName!: string;

  @Field(() => String, { nullable: true, description: 'Exact cluster id; omit for every cluster.' })
  @MaxLength(100)
  clusterId?: string | null;

  @Field(() => GrantScopeEnum)
  scope!: GrantScopeEnum;

  @Field(() => String, { nullable: true, description: 'Required with the NAMESPACE scope, refused otherwise.' })
  @MaxLength(63)
  namespace?: string | null;

  @Field({ description: 'A template name, with or without bke- (workloads-view or bke-workloads-view).' })
  @MaxLength(63)
  template!: string;
}

@InputType()
export class RbacGrantFilter {
  @Field(() => String, { nullable: true, description: 'Grants that apply to this cluster (its own and every-cluster grants).' })
  @MaxLength(100)
  clusterId?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(128)
  subjectName?: string | null;

  @Field(() => GrantSourceEnum, { nullable: true })
  source?: GrantSourceEnum | null;
}

@InputType('RbacPolicyRuleInput')
export class PolicyRuleInput {
  @Field(() => [String])
  verbs!: string[];

  @Field(() => [String], { nullable: true, description: 'Required with resources; "" is the core group.' })
  apiGroups?: string[] | null;

  @Field(() => [String], { nullable: true })
  resources?: string[] | null;

  @Field(() => [String], { nullable: true })
  resourceNames?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Instead of apiGroups and resources.' })
  nonResourceURLs?: string[] | null;
}
