import { Field, Int, ObjectType } from 'type-graphql';
import type { RbacTemplateView } from '../../domain/rbac-templates';

@ObjectType('RbacPolicyRule', { description: 'A Kubernetes PolicyRule.' })
export class PolicyRuleObject {
  @Field(() => [String])
  verbs!: string[];

  @Field(() => [String], { nullable: true })
  apiGroups?: string[];

  @Field(() => [String], { nullable: true })
  resources?: string[];

  @Field(() => [String], { nullable: true })
  resourceNames?: string[];

  @Field(() => [String], { nullable: true })
  nonResourceURLs?: string[];
}

@ObjectType('RbacTemplate', { description: 'A role template: a ClusterRole named bke-<name> in every cluster that a grant uses it in.' })
export class RbacTemplateObject {
  @Field()
  name!: string;

  @Field()
  roleName!: string;

  @Field({ description: "The original's six templates are built in and cannot be changed." })
  builtin!: boolean;

  @Field(() => [PolicyRuleObject])
  rules!: PolicyRuleObject[];

  @Field(() => Int, { nullable: true, description: 'For updates (optimistic locking); null for built-in templates.' })
  version!: number | null;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  static from(v: RbacTemplateView): RbacTemplateObject {
    return Object.assign(new RbacTemplateObject(), { ...v, rules: v.rules.map((r) => Object.assign(new PolicyRuleObject(), r)) });
  }
}
