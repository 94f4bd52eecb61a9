import { OptimisticLockError, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import type { V1PolicyRule } from '@kubernetes/client-node';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { BUILTIN_CATALOG, catalogWith, isTemplateName, ROLE_PREFIX, type TemplateCatalog } from './role-templates';
import { RbacGrant, RbacTemplate } from '../store/entities';
import { requireSuperUser } from './authorize';
import { commitWithChange } from './changes';
import type { DomainContext, Principal } from './context';

/** A template as callers see it: built-in or added by a super user. */
export interface RbacTemplateView {
  name: string;
  roleName: string;
  builtin: boolean;
  rules: V1PolicyRule[];
  version: number | null;
  createdBy: string | null;
  updatedAt: Date | null;
}

/** Room for `bke-` in a 63-character ClusterRole name that is also a label value. */
const TEMPLATE_NAME = /^[a-z0-9]([-a-z0-9]{0,56}[a-z0-9])?$/;
const MAX_RULES = 64;
const MAX_ITEMS = 256;
const RULE_FIELDS = ['verbs', 'apiGroups', 'resources', 'resourceNames', 'nonResourceURLs'] as const;

export interface PolicyRuleInput {
  verbs?: unknown;
  apiGroups?: unknown;
  resources?: unknown;
  resourceNames?: unknown;
  nonResourceURLs?: unknown;
}

function stringList(field: string, value: unknown, required: boolean, allowEmpty = false): string[] | undefined {
  if (value === undefined || value === null) {
    if (required) throw new ValidationError(field, `field '${field}' is required`);
    return undefined;
  }
  if (!Array.isArray(value) || value.length > MAX_ITEMS) throw new ValidationError(field, `field '${field}' must be a list of at most ${MAX_ITEMS} strings`);
  return value.map((v, i) => {
    if (typeof v !== 'string' || (!v && !allowEmpty) || v.length > 253 || /\s/.test(v)) {
      throw new ValidationError(`${field}[${i}]`, `field '${field}[${i}]' must be a ${allowEmpty ? '' : 'non-empty '}string without spaces`);
    }
    return v;
  });
}

/** The rules of a template, checked the way the apiserver would before we ever send them. */
export function validateRules(field: string, value: unknown): V1PolicyRule[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_RULES) throw new ValidationError(field, `field '${field}' must list 1 to ${MAX_RULES} rules`);
  return value.map((raw: PolicyRuleInput, i) => {
    const at = `${field}[${i}]`;
    if (!raw || typeof raw !== 'object') throw new ValidationError(at, `field '${at}' must be a rule`);
    const rule: V1PolicyRule = { verbs: stringList(`${at}.verbs`, raw.verbs, true)! };
    if (!rule.verbs.length) throw new ValidationError(`${at}.verbs`, `field '${at}.verbs' must name at least one verb`);
    for (const key of RULE_FIELDS.slice(1)) {
      // "" is the core API group.
      const list = stringList(`${at}.${key}`, raw[key], false, key === 'apiGroups');
      if (list) rule[key] = list;
    }
    const resourceRule = rule.resources !== undefined;
    const urlRule = rule.nonResourceURLs !== undefined;
    if (resourceRule === urlRule) throw new ValidationError(at, `field '${at}' must set either resources (with apiGroups) or nonResourceURLs`);
    if (resourceRule && !rule.apiGroups) throw new ValidationError(`${at}.apiGroups`, `field '${at}.apiGroups' is required with resources ("" is the core group)`);
    if (urlRule && (rule.apiGroups || rule.resourceNames)) throw new ValidationError(at, `field '${at}' cannot mix nonResourceURLs with apiGroups or resourceNames`);
    return rule;
  });
}

function builtinView(name: string, rules: readonly V1PolicyRule[]): RbacTemplateView {
  return { name, roleName: `${ROLE_PREFIX}${name}`, builtin: true, rules: rules.map((r) => ({ ...r })), version: null, createdBy: null, updatedAt: null };
}

function customView(row: RbacTemplate): RbacTemplateView {
  return { name: row.name, roleName: `${ROLE_PREFIX}${row.name}`, builtin: false, rules: JSON.parse(row.rules) as V1PolicyRule[], version: row.version, createdBy: row.createdBy ?? null, updatedAt: row.updatedAt };
}

/** The catalog sync and validation use: built-ins plus every stored template. */
export async function loadCatalog(em: EntityManager): Promise<TemplateCatalog> {
  // Unmanaged: the caller's later flush must never see these rows (a spurious update would bump their version).
  const rows = await em.find(RbacTemplate, {}, { orderBy: { name: 'asc' }, disableIdentityMap: true });
  return catalogWith(rows.map((r) => [r.name, JSON.parse(r.rules) as V1PolicyRule[]]));
}

export async function listTemplates(ctx: DomainContext): Promise<RbacTemplateView[]> {
  const rows = await ctx.em.find(RbacTemplate, {}, { orderBy: { name: 'asc' } });
  return [...[...BUILTIN_CATALOG].map(([n, r]) => builtinView(n, r)), ...rows.map(customView)];
}

function templateName(field: string, value: unknown): string {
  if (typeof value !== 'string' || !value.trim()) throw new ValidationError(field, `field '${field}' is required`);
  const bare = value.trim().startsWith(ROLE_PREFIX) ? value.trim().slice(ROLE_PREFIX.length) : value.trim();
  if (!TEMPLATE_NAME.test(bare)) throw new ValidationError(field, `field '${field}' must be 1-58 lower-case letters, digits and '-' (the ClusterRole is ${ROLE_PREFIX}<name>)`);
  return bare;
}

export async function createTemplate(ctx: DomainContext, actor: Principal, input: { name: unknown; rules: unknown }): Promise<RbacTemplateView> {
  requireSuperUser(actor, 'add role templates');
  const name = templateName('name', input.name);
  if (isTemplateName(name)) throw new ConflictError(`template ${name} is built in`);
  const row = new RbacTemplate();
  row.name = name;
  row.rules = JSON.stringify(validateRules('rules', input.rules));
  row.createdBy = actor.user.name;
  ctx.em.persist(row);
  try {
    await ctx.em.flush();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw new ConflictError(`template ${name} exists`);
    throw err;
  }
  return customView(row);
}

async function findCustom(ctx: DomainContext, name: string): Promise<RbacTemplate> {
  if (isTemplateName(name)) throw new ForbiddenError(`template ${name} is built in and cannot be changed`);
  const row = await ctx.em.findOne(RbacTemplate, { name });
  if (!row) throw new NotFoundError('template', name);
  return row;
}

/** New rules for a custom template; every cluster whose grants use it is resynced. */
export async function updateTemplate(ctx: DomainContext, actor: Principal, nameIn: unknown, expectedVersion: number, rules: unknown): Promise<RbacTemplateView> {
  requireSuperUser(actor, 'change role templates');
  const row = await findCustom(ctx, templateName('name', nameIn));
  if (row.version !== expectedVersion) throw new ConflictError(`template ${row.name} is at version ${row.version}, not ${expectedVersion}: read it again and retry`);
  row.rules = JSON.stringify(validateRules('rules', rules));
  try {
    await commitWithChange(ctx, 'rbac', '*');
  } catch (err) {
    if (err instanceof OptimisticLockError) throw new ConflictError(`template ${row.name} was changed meanwhile: read it again and retry`);
    throw err;
  }
  return customView(row);
}

/** Refused while a grant uses it: removing it would silently strip those grants' bindings. */
export async function deleteTemplate(ctx: DomainContext, actor: Principal, nameIn: unknown): Promise<RbacTemplateView> {
  requireSuperUser(actor, 'delete role templates');
  const row = await findCustom(ctx, templateName('name', nameIn));
  const users = await ctx.em.count(RbacGrant, { template: row.name });
  if (users) throw new ConflictError(`template ${row.name} is used by ${users} grant(s); delete them first`);
  const view = customView(row);
  ctx.em.remove(row);
  await ctx.em.flush();
  return view;
}
