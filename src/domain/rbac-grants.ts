import { createHash } from 'node:crypto';
import { UniqueConstraintViolationException, type EntityManager, type FilterQuery } from '@mikro-orm/core';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import type { Grant } from '../rbac/plan';
import { ROLE_PREFIX, type TemplateCatalog } from './role-templates';
import { Cluster, RbacGrant, User, type GrantScopeKind, type GrantSource, type GrantSubjectKind } from '../store/entities';
import { requireSuperUser } from './authorize';
import { commitWithChange } from './changes';
import type { DomainContext, Principal } from './context';
import { isReservedKubernetesName, kubernetesUserName } from './kube-names';
import { findPage, type Page, type PageArgs } from './pagination';
import { loadCatalog } from './rbac-templates';
import { requireName } from './validate';

export const GRANT_SOURCES: readonly GrantSource[] = ['graphql', 'config', 'subscription'];
export const SCOPE_KINDS: readonly GrantScopeKind[] = ['cluster', 'namespace', 'all_namespaces'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The original's `clusterrolebinding.from.bke.bcs` values; GraphQL grants get their own. */
export const FROM_LABELS = { config: '', graphql: 'from-graphql', anyCluster: 'from-any-cluster', common: 'from-common', anyNamespaces: 'from-any-namespaces' } as const;

/** Everything that identifies a grant, already validated. */
export interface GrantSpec {
  subjectKind: GrantSubjectKind;
  subjectName: string;
  clusterId: string | null;
  scope: GrantScopeKind;
  namespace: string | null;
  template: string;
}

export interface GrantInput {
  subjectKind: unknown;
  subjectName: unknown;
  clusterId?: unknown;
  scope: unknown;
  namespace?: unknown;
  template: unknown;
}

function identityOf(source: GrantSource, s: GrantSpec): string {
  return createHash('sha256')
    .update(JSON.stringify([source, s.subjectKind, s.subjectName, s.clusterId ?? '*', s.scope, s.namespace ?? '', s.template]))
    .digest('hex');
}

/** Checks a grant's fields; `field` prefixes name them as the caller wrote them (`input.` for GraphQL). */
export function validateGrant(input: GrantInput, catalog: TemplateCatalog, prefix = 'input.'): GrantSpec {
  const subjectKind = input.subjectKind;
  if (subjectKind !== 'User' && subjectKind !== 'Group') throw new ValidationError(`${prefix}subjectKind`, `field '${prefix}subjectKind' must be User or Group`);
  const subjectName = requireName(`${prefix}subjectName`, input.subjectName, 128);
  // Kubernetes reserves system: names; a grant to one could reach system:masters-like identities.
  if (isReservedKubernetesName(subjectName)) {
    throw new ValidationError(`${prefix}subjectName`, `'${subjectName}' is reserved by Kubernetes (system:) and cannot be granted anything`);
  }
  const scope = input.scope;
  if (typeof scope !== 'string' || !(SCOPE_KINDS as readonly string[]).includes(scope)) {
    throw new ValidationError(`${prefix}scope`, `field '${prefix}scope' must be one of ${SCOPE_KINDS.join(', ')}`);
  }
  let namespace: string | null = null;
  if (scope === 'namespace') {
    if (typeof input.namespace !== 'string' || !DNS_LABEL.test(input.namespace)) {
      throw new ValidationError(`${prefix}namespace`, `field '${prefix}namespace' must be a namespace name (lower-case DNS label) when the scope is namespace`);
    }
    namespace = input.namespace;
  } else if (input.namespace !== undefined && input.namespace !== null && input.namespace !== '') {
    throw new ValidationError(`${prefix}namespace`, `field '${prefix}namespace' is only allowed with the namespace scope`);
  }
  if (typeof input.template !== 'string' || !input.template) throw new ValidationError(`${prefix}template`, `field '${prefix}template' is required`);
  const template = input.template.startsWith(ROLE_PREFIX) ? input.template.slice(ROLE_PREFIX.length) : input.template;
  if (!catalog.has(template)) throw new ValidationError(`${prefix}template`, `no role template named '${input.template}' (known: ${[...catalog.keys()].join(', ')})`);
  let clusterId: string | null = null;
  if (input.clusterId !== undefined && input.clusterId !== null && input.clusterId !== '*') {
    clusterId = requireName(`${prefix}clusterId`, input.clusterId, 100);
  }
  return { subjectKind, subjectName, clusterId, scope: scope as GrantScopeKind, namespace, template };
}

function rowOf(source: GrantSource, spec: GrantSpec, fromLabel: string, grantedBy: string | null, now: Date): RbacGrant {
  const row = new RbacGrant();
  Object.assign(row, spec);
  row.identity = identityOf(source, spec);
  row.source = source;
  row.fromLabel = fromLabel;
  row.grantedBy = grantedBy;
  row.createdAt = now;
  return row;
}

/** A GraphQL grant (super users only). The cluster, when named, must exist (exact id); a User subject must be a gateway user. */
export async function createGrant(ctx: DomainContext, actor: Principal, input: GrantInput): Promise<RbacGrant> {
  requireSuperUser(actor, 'grant permissions');
  const spec = validateGrant(input, await loadCatalog(ctx.em));
  if (spec.clusterId && !(await ctx.em.findOne(Cluster, { id: spec.clusterId }, { fields: ['id'] }))) {
    throw new ValidationError('input.clusterId', `no cluster with id '${spec.clusterId}' (ids match exactly; omit it for every cluster)`);
  }
  if (spec.subjectKind === 'User' && !(await ctx.em.findOne(User, { name: spec.subjectName }, { fields: ['id'] }))) {
    throw new ValidationError('input.subjectName', `no gateway user named '${spec.subjectName}'`);
  }
  const row = rowOf('graphql', spec, FROM_LABELS.graphql, actor.user.name, ctx.now());
  ctx.em.persist(row);
  try {
    await commitWithChange(ctx, 'rbac', spec.clusterId ?? '*');
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw new ConflictError('an identical grant exists');
    throw err;
  }
  return row;
}

/** Only GraphQL grants: the others belong to the config file or the subscription and would come back from there. */
export async function deleteGrant(ctx: DomainContext, actor: Principal, id: number): Promise<RbacGrant> {
  requireSuperUser(actor, 'revoke permissions');
  const row = await ctx.em.findOne(RbacGrant, { id });
  if (!row) throw new NotFoundError('grant', String(id));
  if (row.source !== 'graphql') {
    throw new ForbiddenError(`grant ${id} comes from the ${row.source === 'config' ? 'config file (rbac_data)' : 'permission subscription'}; change it there`);
  }
  ctx.em.remove(row);
  await commitWithChange(ctx, 'rbac', row.clusterId ?? '*');
  return row;
}

export interface GrantFilter {
  clusterId?: string | null;
  subjectName?: string | null;
  source?: GrantSource | null;
}

/** Super users see every grant; anyone else the grants naming them or one of their groups. */
export async function listGrants(ctx: DomainContext, actor: Principal, filter: GrantFilter, page: PageArgs): Promise<Page<RbacGrant>> {
  const where: FilterQuery<RbacGrant>[] = [];
  if (filter.clusterId) where.push({ $or: [{ clusterId: filter.clusterId }, { clusterId: null }] });
  if (filter.subjectName) where.push({ subjectName: filter.subjectName });
  if (filter.source) where.push({ source: filter.source });
  if (!actor.user.isSuperUser) {
    where.push({ $or: [{ subjectKind: 'User', subjectName: actor.user.name }, ...(actor.user.groups.length ? [{ subjectKind: 'Group' as const, subjectName: { $in: actor.user.groups } }] : [])] });
  }
  return findPage(ctx.em, RbacGrant, where.length ? { $and: where } : {}, 'id', 'number', page);
}

/** The grants that apply to one cluster, from the sources switched on. */
export async function grantsForCluster(em: EntityManager, clusterId: string, sources: readonly GrantSource[]): Promise<RbacGrant[]> {
  return em.find(RbacGrant, { $or: [{ clusterId }, { clusterId: null }], source: { $in: [...sources] } }, { orderBy: { id: 'asc' } });
}

/** A stored grant as the planner takes it: subject names as the cluster sees them (the proxy's mapping). */
export function toPlannerGrant(row: RbacGrant): Grant {
  return {
    subject: { kind: row.subjectKind, name: row.subjectKind === 'User' ? kubernetesUserName(row.subjectName) : row.subjectName },
    scope: row.scope === 'namespace' ? { kind: 'namespace', namespace: row.namespace ?? '' } : { kind: 'cluster' },
    template: row.template,
    from: row.fromLabel,
  };
}

/**
 * Makes the config-file grants (`rbac_data`) exactly what the file says: rows no longer listed go, new
 * ones come. Entries that cannot be valid (unknown template, reserved name) are skipped and reported;
 * unknown users or clusters are kept (they may be registered later) but reported.
 */
export async function replaceConfigGrants(
  ctx: DomainContext,
  data: readonly { userName: string; clusterId: string; roles: readonly string[] }[],
): Promise<{ added: number; removed: number; problems: string[] }> {
  const catalog = await loadCatalog(ctx.em);
  const problems: string[] = [];
  const wanted = new Map<string, RbacGrant>();
  const [users, clusters] = await Promise.all([ctx.em.find(User, {}, { fields: ['name'] }), ctx.em.find(Cluster, {}, { fields: ['id'] })]);
  const userNames = new Set(users.map((u) => u.name));
  const clusterIds = new Set(clusters.map((c) => c.id));
  data.forEach((entry, i) => {
    if (!userNames.has(entry.userName)) problems.push(`rbac_data[${i}]: no user named '${entry.userName}' yet`);
    if (!clusterIds.has(entry.clusterId)) problems.push(`rbac_data[${i}]: no cluster with id '${entry.clusterId}' yet`);
    entry.roles.forEach((role, j) => {
      try {
        const spec = validateGrant({ subjectKind: 'User', subjectName: entry.userName, clusterId: entry.clusterId, scope: 'cluster', template: role }, catalog, `rbac_data[${i}].`);
        const row = rowOf('config', spec, FROM_LABELS.config, 'config', ctx.now());
        wanted.set(row.identity, row);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        problems.push(`rbac_data[${i}].roles[${j}]: ${err.message}`);
      }
    });
  });
  const existing = await ctx.em.find(RbacGrant, { source: 'config' });
  const have = new Set(existing.map((r) => r.identity));
  const stale = existing.filter((r) => !wanted.has(r.identity));
  const fresh = [...wanted.values()].filter((r) => !have.has(r.identity));
  for (const r of stale) ctx.em.remove(r);
  for (const r of fresh) ctx.em.persist(r);
  if (stale.length || fresh.length) await commitWithChange(ctx, 'rbac', '*');
  return { added: fresh.length, removed: stale.length, problems };
}

/** The subscription's decoded `data` (the original's AuthRbacData), as far as grants need it. */
export interface SubscriptionGrantEvent {
  operation: 'add' | 'delete';
  principal: { principal_type: string; principal_id: string };
  action: string;
  resource_type: 'cluster' | 'namespace';
  resource_instance: { cluster: string; namespace?: string };
  policy_from: string;
}

/** Which clusters a subscription event touched: ids, `*` for every cluster, or none (skipped, as the original did). */
export type SubscriptionOutcome = { clusters: string[] | '*'; changed: boolean } | { skipped: string };

/** Exact id first, then a case-insensitive exact match (the original lower-cased ids); never a substring. */
async function resolveClusterId(em: EntityManager, wanted: string): Promise<string> {
  const exact = await em.findOne(Cluster, { id: wanted }, { fields: ['id'] });
  if (exact) return exact.id;
  const all = await em.find(Cluster, {}, { fields: ['id'] });
  const hits = all.filter((c) => c.id.toLowerCase() === wanted.toLowerCase());
  if (hits.length === 1) return hits[0]!.id;
  throw new ValidationError('resource_instance.cluster', hits.length ? `cluster '${wanted}' matches ${hits.length} clusters` : `no cluster with id '${wanted}'`);
}

/**
 * Stores one subscription event as a grant change (the original's mapping, §8.6), with exact cluster
 * matching. Throws ValidationError for events that cannot be applied, so the caller does not ack them.
 */
export async function applySubscriptionEvent(ctx: DomainContext, event: SubscriptionGrantEvent, grantedBy: string): Promise<SubscriptionOutcome> {
  const subjectName = `${event.principal.principal_type}:${event.principal.principal_id}`;
  const { cluster } = event.resource_instance;
  let clusterId: string | null;
  let scope: GrantScopeKind = 'cluster';
  let namespace: string | null = null;
  let fromLabel: string;
  if (event.resource_type === 'cluster') {
    if (cluster === '*') {
      clusterId = null;
      fromLabel = FROM_LABELS.anyCluster;
    } else {
      clusterId = await resolveClusterId(ctx.em, cluster);
      if (event.policy_from === 'common') fromLabel = FROM_LABELS.common;
      else if (event.policy_from === 'pattern_policy') fromLabel = FROM_LABELS.anyCluster;
      else throw new ValidationError('policy_from', `unknown policy_from '${event.policy_from}' (common or pattern_policy)`);
    }
  } else {
    clusterId = await resolveClusterId(ctx.em, cluster);
    const ns = event.resource_instance.namespace ?? '';
    if (ns === '*') {
      scope = 'all_namespaces';
      fromLabel = FROM_LABELS.anyNamespaces;
    } else if (event.policy_from === 'pattern_policy') {
      return { skipped: 'namespace pattern policies are not applied (as in the original)' };
    } else if (event.policy_from === 'common') {
      scope = 'namespace';
      namespace = ns;
      fromLabel = FROM_LABELS.common;
    } else throw new ValidationError('policy_from', `unknown policy_from '${event.policy_from}' (common or pattern_policy)`);
  }
  const spec = validateGrant({ subjectKind: 'User', subjectName, clusterId, scope, namespace, template: event.action }, await loadCatalog(ctx.em), '');
  const identity = identityOf('subscription', spec);
  const existing = await ctx.em.findOne(RbacGrant, { identity });
  const clusters = spec.clusterId ? [spec.clusterId] : ('*' as const);
  if (event.operation === 'add') {
    if (existing) return { clusters, changed: false };
    ctx.em.persist(rowOf('subscription', spec, fromLabel, grantedBy, ctx.now()));
  } else {
    if (!existing) return { clusters, changed: false };
    ctx.em.remove(existing);
  }
  try {
    await commitWithChange(ctx, 'rbac', spec.clusterId ?? '*');
  } catch (err) {
    // The same add delivered twice at once: the other delivery stored it.
    if (err instanceof UniqueConstraintViolationException) return { clusters, changed: false };
    throw err;
  }
  return { clusters, changed: true };
}

/** GraphQL grants always apply; config and subscription grants while their switch is on. */
export function activeGrantSources(rbac: { turnOnConf: boolean; turnOnAuth: boolean }): GrantSource[] {
  return ['graphql', ...(rbac.turnOnConf ? (['config'] as const) : []), ...(rbac.turnOnAuth ? (['subscription'] as const) : [])];
}
