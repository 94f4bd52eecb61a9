/**
 * The original bcs-api's ClusterRole templates (`API/pkg/rbac/template/role_template.go`, `roleRules.go`):
 * every template is a ClusterRole named `bke-<name>`, and bindings always refer to that ClusterRole.
 */
import type { V1ClusterRole, V1PolicyRule } from '@kubernetes/client-node';

export const RBAC_API_GROUP = 'rbac.authorization.k8s.io';
export const ROLE_PREFIX = 'bke-';

/** Label keys of the original (§8.4). */
export const LABEL_CRB_USER = 'clusterrolebinding.user.bke.bcs';
export const LABEL_CRB_FROM = 'clusterrolebinding.from.bke.bcs';
export const LABEL_RB_USER = 'rolebinding.user.bke.bcs';
/**
 * Our addition: the original left its ClusterRoles unlabelled. We label the ones we create or adopt
 * (value = template name) so they can be listed by selector.
 */
export const LABEL_ROLE_TEMPLATE = 'clusterrole.template.bke.bcs';

export const TEMPLATE_NAMES = ['cluster-manage', 'cluster-readonly', 'services-view', 'services-manage', 'workloads-view', 'workloads-manage'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

const READ = ['get', 'list', 'watch'];

const WORKLOAD_RESOURCES = [
  'pods',
  'pods/attach',
  'pods/exec',
  'pods/portforward',
  'pods/proxy',
  'replicationcontrollers',
  'replicationcontrollers/scale',
  'daemonsets',
  'deployments',
  'deployments/rollback',
  'deployments/scale',
  'replicasets',
  'replicasets/scale',
  'statefulsets',
  'cronjobs',
  'jobs',
  'horizontalpodautoscalers',
];

const WORKLOAD_READONLY_RESOURCES = ['limitranges', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status', 'bindings'];

const SERVICE_RESOURCES = ['services', 'endpoints'];

/** The exact rules of every template (§8.2). Treat as read-only; use `templateRules()` for a copy. */
export const ROLE_TEMPLATES: Readonly<Record<TemplateName, readonly V1PolicyRule[]>> = {
  'cluster-manage': [
    { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
    { verbs: ['*'], nonResourceURLs: ['*'] },
  ],
  'cluster-readonly': [{ verbs: READ, apiGroups: ['*'], resources: ['*'] }],
  'services-view': [{ verbs: READ, apiGroups: ['*'], resources: SERVICE_RESOURCES }],
  'services-manage': [{ verbs: ['*'], apiGroups: ['*'], resources: SERVICE_RESOURCES }],
  'workloads-view': [
    { verbs: READ, apiGroups: ['*'], resources: WORKLOAD_RESOURCES },
    { verbs: READ, apiGroups: ['*'], resources: WORKLOAD_READONLY_RESOURCES },
  ],
  'workloads-manage': [
    { verbs: ['*'], apiGroups: ['*'], resources: WORKLOAD_RESOURCES },
    { verbs: READ, apiGroups: ['*'], resources: WORKLOAD_READONLY_RESOURCES },
  ],
};

export function isTemplateName(name: string): name is TemplateName {
  return (TEMPLATE_NAMES as readonly string[]).includes(name);
}

/** `bke-<name>`. */
export function roleNameFor(template: string): string {
  return `${ROLE_PREFIX}${template}`;
}

/**
 * Every template a grant may name, by bare name (`workloads-view`), with its rules: the six built-in
 * ones plus those super users added. Planning takes one so it stays pure.
 */
export type TemplateCatalog = ReadonlyMap<string, readonly V1PolicyRule[]>;

const copyRules = (rules: readonly V1PolicyRule[]): V1PolicyRule[] => rules.map((r) => JSON.parse(JSON.stringify(r)) as V1PolicyRule);

export const BUILTIN_CATALOG: TemplateCatalog = new Map(TEMPLATE_NAMES.map((t) => [t, ROLE_TEMPLATES[t]]));

/** The built-in templates plus custom ones; a custom template can never shadow a built-in one. */
export function catalogWith(custom: Iterable<[string, readonly V1PolicyRule[]]>): TemplateCatalog {
  const catalog = new Map(BUILTIN_CATALOG);
  for (const [name, rules] of custom) if (!isTemplateName(name)) catalog.set(name, rules);
  return catalog;
}

/** A deep copy of a template's rules. */
export function templateRules(template: string, catalog: TemplateCatalog = BUILTIN_CATALOG): V1PolicyRule[] {
  const rules = catalog.get(template);
  if (!rules) throw new Error(`no role template ${template}`);
  return copyRules(rules);
}

/** The ClusterRole object for a template, labelled as ours. */
export function clusterRoleFor(template: string, catalog: TemplateCatalog = BUILTIN_CATALOG): V1ClusterRole {
  return {
    apiVersion: `${RBAC_API_GROUP}/v1`,
    kind: 'ClusterRole',
    metadata: { name: roleNameFor(template), labels: { [LABEL_ROLE_TEMPLATE]: template } },
    rules: templateRules(template, catalog),
  };
}

const READ_VERBS = new Set(READ);

/** True when some rule allows a verb beyond get/list/watch: what the Mesos passthrough treats as write access. */
export function allowsWrites(rules: readonly V1PolicyRule[]): boolean {
  return rules.some((r) => (r.verbs ?? []).some((v) => !READ_VERBS.has(v)));
}
