import type { RequestInfo } from './request-info';
import { findDef, type KubeObject, type Store } from './resources';
import { status, type KubeStatus } from './status';

export interface UserInfo {
  username: string;
  groups: string[];
  uid?: string;
  extra: Record<string, string[]>;
}

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  namespace?: string;
}

interface Binding extends KubeObject {
  subjects?: Subject[];
  roleRef: { kind: 'Role' | 'ClusterRole'; name: string; apiGroup?: string };
}

export type Attributes = Pick<RequestInfo, 'verb' | 'isResourceRequest' | 'apiGroup' | 'resource' | 'subresource' | 'namespace' | 'name' | 'path'>;

const has = (list: string[] | undefined, v: string) => !!list && (list.includes('*') || list.includes(v));

function ruleAllows(rule: PolicyRule, a: Attributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.isResourceRequest) {
    return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.slice(0, -1))));
  }
  if (!has(rule.apiGroups, a.apiGroup)) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resources = rule.resources ?? [];
  const resourceOk = resources.some((r) => r === '*' || r === combined || (a.subresource && r === `*/${a.subresource}`));
  if (!resourceOk) return false;
  // Like RBAC: a rule naming objects never matches requests without a name (list, create).
  return !rule.resourceNames?.length || rule.resourceNames.includes(a.name);
}

function subjectMatches(s: Subject, user: UserInfo, bindingNs: string): boolean {
  if (s.kind === 'User') return s.name === user.username;
  if (s.kind === 'Group') return user.groups.includes(s.name);
  return user.username === `system:serviceaccount:${s.namespace ?? bindingNs}:${s.name}`;
}

/**
 * RBAC evaluated over the Roles/ClusterRoles/bindings held in the store, so objects created through the
 * API (e.g. by a later RBAC-sync feature) take effect at once, exactly as tests seed them.
 */
export class RbacAuthorizer {
  /** Users that bypass RBAC, as system:masters does; the gateway SA is one. */
  readonly superUsers = new Set<string>();

  constructor(private readonly store: Store) {}

  rulesFor(user: UserInfo, namespace: string): PolicyRule[] {
    const rules: PolicyRule[] = [];
    const crbs = this.store.list(findDef('rbac.authorization.k8s.io', 'clusterrolebindings')!) as Binding[];
    for (const b of crbs) {
      if ((b.subjects ?? []).some((s) => subjectMatches(s, user, ''))) rules.push(...this.roleRules(b, ''));
    }
    if (namespace) {
      const rbs = this.store.list(findDef('rbac.authorization.k8s.io', 'rolebindings')!, { namespace }) as Binding[];
      for (const b of rbs) {
        if ((b.subjects ?? []).some((s) => subjectMatches(s, user, namespace))) rules.push(...this.roleRules(b, namespace));
      }
    }
    return rules;
  }

  private roleRules(b: Binding, ns: string): PolicyRule[] {
    const kind = b.roleRef.kind === 'Role' && ns ? 'roles' : 'clusterroles';
    const role = this.store.tryGet(findDef('rbac.authorization.k8s.io', kind)!, ns, b.roleRef.name);
    return ((role?.rules as PolicyRule[] | undefined) ?? []).slice();
  }

  allowed(user: UserInfo, a: Attributes): boolean {
    if (this.superUsers.has(user.username) || user.groups.includes('system:masters')) return true;
    return this.rulesFor(user, a.namespace).some((r) => ruleAllows(r, a));
  }
}

/** The 403 body kube-apiserver writes (responsewriters.Forbidden), word for word, because kubectl shows it. */
export function forbidden(user: UserInfo, a: Attributes): KubeStatus {
  let what: string;
  if (!a.isResourceRequest) {
    what = `User "${user.username}" cannot ${a.verb} path "${a.path}"`;
  } else {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
    what = `User "${user.username}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${scope}`;
  }
  if (!a.isResourceRequest) return status(403, `forbidden: ${what}`, 'Forbidden', {});
  const gr = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const message = a.name ? `${gr} "${a.name}" is forbidden: ${what}` : `${gr} is forbidden: ${what}`;
  const details: Record<string, unknown> = { group: a.apiGroup, kind: a.resource };
  if (a.name) details.name = a.name;
  return status(403, message, 'Forbidden', details);
}

/** Roles every real cluster has, so ordinary users can do discovery and `kubectl auth can-i`. */
export function defaultRbacObjects(): KubeObject[] {
  const g = 'rbac.authorization.k8s.io';
  const cr = (name: string, rules: PolicyRule[]): KubeObject => ({ apiVersion: `${g}/v1`, kind: 'ClusterRole', metadata: { name }, rules });
  const crb = (name: string, role: string, group: string): KubeObject => ({
    apiVersion: `${g}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: g, kind: 'ClusterRole', name: role },
    subjects: [{ apiGroup: g, kind: 'Group', name: group }],
  });
  return [
    cr('cluster-admin', [
      { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
      { verbs: ['*'], nonResourceURLs: ['*'] },
    ]),
    cr('system:basic-user', [
      { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
    ]),
    cr('system:discovery', [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/openapi', '/openapi/*', '/version', '/version/', '/healthz', '/livez', '/readyz'] }]),
    crb('system:basic-user', 'system:basic-user', 'system:authenticated'),
    crb('system:discovery', 'system:discovery', 'system:authenticated'),
  ];
}
