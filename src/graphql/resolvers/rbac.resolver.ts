import { Arg, Args, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { kubernetesUserName } from '../../domain/kube-names';
import { createGrant, deleteGrant, listGrants } from '../../domain/rbac-grants';
import { readSyncStatus, readSyncStatuses } from '../../domain/rbac-sync-status';
import { createTemplate, deleteTemplate, listTemplates, updateTemplate } from '../../domain/rbac-templates';
import { isGatewayError, NotFoundError, UnavailableError } from '../../errors';
import { errMessage } from '../../rbac/apply';
import { Cluster } from '../../store/entities';
import { Role } from '../auth-checker';
import type { GraphqlContext } from '../context';
import { PageArgs } from '../inputs/page.args';
import { CreateRbacGrantInput, PolicyRuleInput, RbacGrantFilter } from '../inputs/rbac.input';
import { RbacGrantConnection, RbacGrantObject } from '../types/rbac-grant.type';
import { RbacDryRunObject, RbacSubscriptionStatusObject, RbacSyncStatusObject } from '../types/rbac-sync.type';
import { RbacTemplateObject } from '../types/rbac-template.type';
import type { RbacGrant } from '../../store/entities';

function grantObject(ctx: GraphqlContext, row: RbacGrant): RbacGrantObject {
  return RbacGrantObject.from(row, ctx.rbac.activeSources, row.subjectKind === 'User' ? kubernetesUserName(row.subjectName) : row.subjectName);
}

/** Cluster I/O failures are the cluster's problem, not the gateway's: say so as UNAVAILABLE. */
async function reachingCluster<T>(clusterId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isGatewayError(err)) throw err;
    throw new UnavailableError(`cluster ${clusterId}: ${errMessage(err)}`);
  }
}

@Resolver()
export class RbacResolver {
  @Query(() => RbacGrantConnection, { description: 'Super users see every grant; others the grants naming them or their groups.' })
  async rbacGrants(
    @Args() page: PageArgs,
    @Arg('filter', () => RbacGrantFilter, { nullable: true }) filter: RbacGrantFilter | null,
    @Ctx() ctx: GraphqlContext,
  ): Promise<RbacGrantConnection> {
    return RbacGrantConnection.from(await listGrants(ctx.domain, ctx.actor, filter ?? {}, page), (row) => grantObject(ctx, row));
  }

  @Query(() => [RbacTemplateObject], { description: 'The built-in templates, then those super users added.' })
  async rbacTemplates(@Ctx() { domain }: GraphqlContext): Promise<RbacTemplateObject[]> {
    return (await listTemplates(domain)).map(RbacTemplateObject.from);
  }

  @Authorized(Role.SuperUser)
  @Query(() => RbacSyncStatusObject, { description: "One cluster's RBAC sync status. NOT_FOUND for an unknown cluster." })
  async rbacSyncStatus(@Arg('clusterId') clusterId: string, @Ctx() { domain }: GraphqlContext): Promise<RbacSyncStatusObject> {
    if (!(await domain.em.findOne(Cluster, { id: clusterId }, { fields: ['id'] }))) throw new NotFoundError('cluster', clusterId);
    return RbacSyncStatusObject.from(await readSyncStatus(domain.em, clusterId));
  }

  @Authorized(Role.SuperUser)
  @Query(() => [RbacSyncStatusObject], { description: 'Every cluster, by id; never-synced ones have a null result (two queries whatever the count).' })
  async rbacSyncStatuses(@Ctx() { domain }: GraphqlContext): Promise<RbacSyncStatusObject[]> {
    const clusters = await domain.em.find(Cluster, {}, { fields: ['id'], orderBy: { id: 'asc' } });
    const statuses = await readSyncStatuses(domain.em, clusters.map((c) => c.id));
    return [...statuses.values()].map(RbacSyncStatusObject.from);
  }

  @Authorized(Role.SuperUser)
  @Query(() => RbacDryRunObject, { description: 'Reads the cluster and shows the change set a sync would apply now; applies nothing. When the cluster cannot be read: INTERNAL_SERVER_ERROR with reason UNAVAILABLE and what the cluster answered.' })
  async rbacDryRun(@Arg('clusterId') clusterId: string, @Ctx() ctx: GraphqlContext): Promise<RbacDryRunObject> {
    return RbacDryRunObject.from(await reachingCluster(clusterId, () => ctx.rbac.control().dryRun(clusterId)));
  }

  @Authorized(Role.SuperUser)
  @Query(() => RbacSubscriptionStatusObject, { nullable: true, description: 'Null when turn_on_auth is off (or this process is --role proxy).' })
  rbacSubscription(@Ctx() ctx: GraphqlContext): RbacSubscriptionStatusObject | null {
    const status = ctx.rbac.subscription();
    return status ? RbacSubscriptionStatusObject.from(status) : null;
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => RbacGrantObject, { description: 'Applied to the cluster(s) within seconds; see rbacSyncStatus. CONFLICT when an identical grant exists.' })
  async createRbacGrant(@Arg('input', () => CreateRbacGrantInput) input: CreateRbacGrantInput, @Ctx() ctx: GraphqlContext): Promise<RbacGrantObject> {
    return grantObject(ctx, await createGrant(ctx.domain, ctx.actor, { ...input }));
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => RbacGrantObject, { description: 'Removes a GRAPHQL grant (FORBIDDEN for config and subscription grants); the binding goes within seconds unless another grant calls for it.' })
  async deleteRbacGrant(@Arg('id', () => Int) id: number, @Ctx() ctx: GraphqlContext): Promise<RbacGrantObject> {
    return grantObject(ctx, await deleteGrant(ctx.domain, ctx.actor, id));
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => RbacSyncStatusObject, { description: 'Syncs one cluster now and returns its status afterwards.' })
  async resyncClusterRbac(@Arg('clusterId') clusterId: string, @Ctx() ctx: GraphqlContext): Promise<RbacSyncStatusObject> {
    return RbacSyncStatusObject.from(await ctx.rbac.control().syncNow(clusterId));
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => RbacTemplateObject, { description: 'A new template (ClusterRole bke-<name>). CONFLICT when the name is taken or built in.' })
  async createRbacTemplate(
    @Arg('name') name: string,
    @Arg('rules', () => [PolicyRuleInput]) rules: PolicyRuleInput[],
    @Ctx() { domain, actor }: GraphqlContext,
  ): Promise<RbacTemplateObject> {
    return RbacTemplateObject.from(await createTemplate(domain, actor, { name, rules: rules.map(dropNulls) }));
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => RbacTemplateObject, { description: 'New rules for a custom template; every cluster is resynced. CONFLICT when the version moved on.' })
  async updateRbacTemplate(
    @Arg('name') name: string,
    @Arg('expectedVersion', () => Int) expectedVersion: number,
    @Arg('rules', () => [PolicyRuleInput]) rules: PolicyRuleInput[],
    @Ctx() { domain, actor }: GraphqlContext,
  ): Promise<RbacTemplateObject> {
    return RbacTemplateObject.from(await updateTemplate(domain, actor, name, expectedVersion, rules.map(dropNulls)));
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => RbacTemplateObject, { description: 'CONFLICT while a grant uses it. The ClusterRole stays in clusters (bindings to it are removed with their grants).' })
  async deleteRbacTemplate(@Arg('name') name: string, @Ctx() { domain, actor }: GraphqlContext): Promise<RbacTemplateObject> {
    return RbacTemplateObject.from(await deleteTemplate(domain, actor, name));
  }
}

function dropNulls(rule: PolicyRuleInput): Record<string, string[]> {
  return Object.fromEntries(Object.entries(rule).filter(([, v]) => v !== null && v !== undefined)) as Record<string, string[]>;
}
