/**
 * Pure RBAC planning for one cluster: from the desired grants and the RBAC objects that exist now,
 * compute the change set that makes the cluster match. No I/O; same inputs give the same plan, and a
 * plan computed against the result of applying it is empty.
 *
 * Ownership: a ClusterRoleBinding is ours when it carries `clusterrolebinding.user.bke.bcs`, a
 * RoleBinding when it carries `rolebinding.user.bke.bcs` (the original's labels, §8.4). Nothing else is
 * ever removed. ClusterRoles are identified by their reserved names `bke-<template>`; one that exists
 * without our label (made by the original bcs-api) is adopted: its rules are reset and our label added.
 * A labelled ClusterRole whose template no longer exists (a deleted custom template: templates in use
 * cannot be deleted) is removed, after the bindings that still point at it.
 *
 * Unlike the original (which matched bindings by label + roleRef name only), an owned binding counts as
 * satisfying a grant only if its content matches: exactly one subject of that kind and name, and a
 * roleRef to the template's ClusterRole. Owned bindings that do not match any grant, and duplicates,
 * are removed.
 */
import { createHash } from 'node:crypto';
import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1RoleBinding, RbacV1Subject } from '@kubernetes/client-node';
import {
  BUILTIN_CATALOG,
  clusterRoleFor,
  LABEL_CRB_FROM,
  LABEL_CRB_USER,
  LABEL_RB_USER,
  LABEL_ROLE_TEMPLATE,
  RBAC_API_GROUP,
  ROLE_PREFIX,
  roleNameFor,
  templateRules,
  type TemplateCatalog,
} from '../domain/role-templates';

export interface GrantSubject {
  kind: 'User' | 'Group';
  name: string;
}

export type GrantScope = { kind: 'cluster' } | { kind: 'namespace'; namespace: string };

export interface Grant {
  subject: GrantSubject;
  scope: GrantScope;
  /** A template name, with or without the `bke-` prefix (`workloads-view` or `bke-workloads-view`). */
  template: string;
  /** Value of `clusterrolebinding.from.bke.bcs` on new ClusterRoleBindings; `""` (the conf path's) by default. Not part of identity. */
  from?: string;
}

/** What exists in the cluster now; objects without our labels may be included and are ignored. */
export interface ExistingRbac {
  clusterRoles: V1ClusterRole[];
  clusterRoleBindings: V1ClusterRoleBinding[];
  roleBindings: V1RoleBinding[];
}

export interface RoleChange {
  action: 'create' | 'update';
  template: string;
  /** The full object to create, or to replace with (existing metadata kept, resourceVersion included). */
  role: V1ClusterRole;
  reason: 'missing' | 'rules-drift' | 'unlabelled';
}

export type PlannedBinding =
  | { kind: 'ClusterRoleBinding'; key: string; body: V1ClusterRoleBinding }
  | { kind: 'RoleBinding'; namespace: string; key: string; body: V1RoleBinding };

/** A ClusterRole of ours whose template was deleted. */
export interface RoleRemoval {
  name: string;
  template: string;
  reason: 'template-deleted';
}

export interface BindingRemoval {
  kind: 'ClusterRoleBinding' | 'RoleBinding';
  name: string;
  namespace?: string;
  /** The grant key the binding represents, or null when it does not have the shape we create. */
  key: string | null;
  reason: 'not-granted' | 'duplicate' | 'malformed';
}

export interface RbacPlan {
  ensureRoles: RoleChange[];
  create: PlannedBinding[];
  remove: BindingRemoval[];
  /** Applied last, once no binding of ours refers to them. */
  removeRoles: RoleRemoval[];
}

export class RbacPlanError extends Error {
  override name = 'RbacPlanError';
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A subject name as a label value: itself when valid (e.g. `plain.alice`), otherwise `x-` and a SHA-256
 * prefix. Labels only select and mark ownership; matching uses the binding's subjects.
 */
export function labelValueFor(name: string): string {
  if (name.length <= 63 && LABEL_VALUE.test(name)) return name;
  return `x-${createHash('sha256').update(name).digest('hex').slice(0, 40)}`;
}

/** `bke-workloads-view` or `workloads-view` → `workloads-view`; throws for a name the catalog lacks. */
export function templateOf(template: string, catalog: TemplateCatalog = BUILTIN_CATALOG): string {
  const bare = template.startsWith(ROLE_PREFIX) ? template.slice(ROLE_PREFIX.length) : template;
  if (!catalog.has(bare)) throw new RbacPlanError(`role not existed in roletemplate: ${ROLE_PREFIX}${bare}`);
  return bare;
}

function scopeKey(scope: GrantScope): string {
  return scope.kind === 'cluster' ? 'cluster' : `namespace/${scope.namespace}`;
}

/** Identity of a grant: scope, subject kind and name, ClusterRole name. */
export function grantKey(subject: GrantSubject, scope: GrantScope, roleName: string): string {
  return JSON.stringify([scopeKey(scope), subject.kind, subject.name, roleName]);
}

function validateGrant(g: Grant, catalog: TemplateCatalog): { subject: GrantSubject; scope: GrantScope; template: string; from: string } {
  const template = templateOf(g.template, catalog);
  if (g.subject?.kind !== 'User' && g.subject?.kind !== 'Group') throw new RbacPlanError(`subject kind must be User or Group, got ${JSON.stringify(g.subject?.kind)}`);
  if (typeof g.subject.name !== 'string' || !g.subject.name) throw new RbacPlanError('subject name is required');
  let scope: GrantScope;
  if (g.scope?.kind === 'cluster') scope = { kind: 'cluster' };
  else if (g.scope?.kind === 'namespace') {
    if (typeof g.scope.namespace !== 'string' || g.scope.namespace.length > 63 || !DNS_LABEL.test(g.scope.namespace)) {
      throw new RbacPlanError(`invalid namespace ${JSON.stringify(g.scope.namespace)}`);
    }
    scope = { kind: 'namespace', namespace: g.scope.namespace };
  } else throw new RbacPlanError(`scope kind must be cluster or namespace, got ${JSON.stringify((g.scope as { kind?: unknown })?.kind)}`);
  return { subject: { kind: g.subject.kind, name: g.subject.name }, scope, template, from: g.from ?? '' };
}

function subjectFor(s: GrantSubject): RbacV1Subject {
  return { apiGroup: RBAC_API_GROUP, kind: s.kind, name: s.name };
}

const roleRefFor = (roleName: string) => ({ apiGroup: RBAC_API_GROUP, kind: 'ClusterRole', name: roleName });

/** The key an existing owned binding stands for, or null when it is not shaped like one we create. */
function existingKey(b: V1ClusterRoleBinding | V1RoleBinding, scope: GrantScope, catalog: TemplateCatalog): string | null {
  const subjects = b.subjects ?? [];
  if (subjects.length !== 1) return null;
  const s = subjects[0];
  if ((s.kind !== 'User' && s.kind !== 'Group') || !s.name || (s.apiGroup ?? RBAC_API_GROUP) !== RBAC_API_GROUP) return null;
  const ref = b.roleRef;
  if (!ref || ref.kind !== 'ClusterRole' || (ref.apiGroup ?? RBAC_API_GROUP) !== RBAC_API_GROUP) return null;
  if (!ref.name.startsWith(ROLE_PREFIX) || !catalog.has(ref.name.slice(ROLE_PREFIX.length))) return null;
  return grantKey({ kind: s.kind, name: s.name }, scope, ref.name);
}

function normRules(rules: V1PolicyRule[] | undefined): string {
  return JSON.stringify(
    (rules ?? []).map((r) => [r.verbs ?? [], r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]),
  );
}

/** True when the rules are equal, ignoring absent-vs-empty list differences (order matters, as DeepEqual). */
export function rulesEqual(a: V1PolicyRule[] | undefined, b: V1PolicyRule[] | undefined): boolean {
  return normRules(a) === normRules(b);
}

const byName = (a: { metadata?: { name?: string; namespace?: string } }, b: { metadata?: { name?: string; namespace?: string } }) =>
  `${a.metadata?.namespace ?? ''}/${a.metadata?.name ?? ''}`.localeCompare(`${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}`);

export function planRbac(grants: readonly Grant[], existing: ExistingRbac, catalog: TemplateCatalog = BUILTIN_CATALOG): RbacPlan {
  const desired = new Map<string, ReturnType<typeof validateGrant>>();
  for (const g of grants) {
    const v = validateGrant(g, catalog);
    const key = grantKey(v.subject, v.scope, roleNameFor(v.template));
    if (!desired.has(key)) desired.set(key, v);
  }

  // Roles: every template a grant uses must exist with exactly the template's rules and our label.
  const ensureRoles: RoleChange[] = [];
  const templates = [...new Set([...desired.values()].map((d) => d.template))].sort();
  for (const t of templates) {
    const name = roleNameFor(t);
    const current = existing.clusterRoles.find((r) => r.metadata?.name === name);
    if (!current) {
      ensureRoles.push({ action: 'create', template: t, role: clusterRoleFor(t, catalog), reason: 'missing' });
      continue;
    }
    const drift = !rulesEqual(current.rules, templateRules(t, catalog));
    const unlabelled = current.metadata?.labels?.[LABEL_ROLE_TEMPLATE] !== t;
    if (!drift && !unlabelled) continue;
    const role: V1ClusterRole = {
      apiVersion: `${RBAC_API_GROUP}/v1`,
      kind: 'ClusterRole',
      metadata: { ...current.metadata, name, labels: { ...(current.metadata?.labels ?? {}), [LABEL_ROLE_TEMPLATE]: t } },
      rules: templateRules(t, catalog),
    };
    ensureRoles.push({ action: 'update', template: t, role, reason: drift ? 'rules-drift' : 'unlabelled' });
  }

  // Bindings we own, matched by content.
  const satisfied = new Set<string>();
  const remove: BindingRemoval[] = [];
  const consider = (kind: BindingRemoval['kind'], b: V1ClusterRoleBinding | V1RoleBinding, scope: GrantScope) => {
    const name = b.metadata?.name;
    if (!name) return;
    const key = existingKey(b, scope, catalog);
    const ref = { kind, name, ...(kind === 'RoleBinding' ? { namespace: b.metadata?.namespace } : {}), key };
    if (key === null) remove.push({ ...ref, reason: 'malformed' });
    else if (!desired.has(key)) remove.push({ ...ref, reason: 'not-granted' });
    else if (satisfied.has(key)) remove.push({ ...ref, reason: 'duplicate' });
    else satisfied.add(key);
  };
  for (const b of [...existing.clusterRoleBindings].sort(byName)) {
    if (b.metadata?.labels?.[LABEL_CRB_USER] === undefined) continue;
    consider('ClusterRoleBinding', b, { kind: 'cluster' });
  }
  for (const b of [...existing.roleBindings].sort(byName)) {
    if (b.metadata?.labels?.[LABEL_RB_USER] === undefined || !b.metadata.namespace) continue;
    consider('RoleBinding', b, { kind: 'namespace', namespace: b.metadata.namespace });
  }

  const create: PlannedBinding[] = [];
  for (const [key, d] of desired) {
    if (satisfied.has(key)) continue;
    const roleName = roleNameFor(d.template);
    const labelValue = labelValueFor(d.subject.name);
    if (d.scope.kind === 'cluster') {
      create.push({
        kind: 'ClusterRoleBinding',
        key,
        body: {
          apiVersion: `${RBAC_API_GROUP}/v1`,
          kind: 'ClusterRoleBinding',
          metadata: { generateName: 'clusterrolebinding-', labels: { [LABEL_CRB_USER]: labelValue, [LABEL_CRB_FROM]: d.from } },
          subjects: [subjectFor(d.subject)],
          roleRef: roleRefFor(roleName),
        },
      });
    } else {
      create.push({
        kind: 'RoleBinding',
        namespace: d.scope.namespace,
        key,
        body: {
          apiVersion: `${RBAC_API_GROUP}/v1`,
          kind: 'RoleBinding',
          metadata: { generateName: 'rolebinding-', namespace: d.scope.namespace, labels: { [LABEL_RB_USER]: labelValue } },
          subjects: [subjectFor(d.subject)],
          roleRef: roleRefFor(roleName),
        },
      });
    }
  }
  create.sort((a, b) => a.key.localeCompare(b.key));

  const removeRoles: RoleRemoval[] = [];
  for (const r of [...existing.clusterRoles].sort(byName)) {
    const template = r.metadata?.labels?.[LABEL_ROLE_TEMPLATE];
    const name = r.metadata?.name;
    // Only what we made: our label on our reserved name for that template.
    if (template === undefined || !name || name !== roleNameFor(template) || catalog.has(template)) continue;
    removeRoles.push({ name, template, reason: 'template-deleted' });
  }
  return { ensureRoles, create, remove, removeRoles };
}

export function isEmptyPlan(p: RbacPlan): boolean {
  return !p.ensureRoles.length && !p.create.length && !p.remove.length && !p.removeRoles.length;
}
