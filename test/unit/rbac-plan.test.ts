import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ClusterRole, V1ClusterRoleBinding, V1RoleBinding } from '@kubernetes/client-node';
import { isEmptyPlan, planRbac, RbacPlanError, type ExistingRbac, type Grant } from '../../src/rbac/plan';
import { catalogWith, clusterRoleFor, LABEL_CRB_FROM, LABEL_CRB_USER, LABEL_RB_USER, LABEL_ROLE_TEMPLATE, ROLE_TEMPLATES, TEMPLATE_NAMES } from '../../src/domain/role-templates';

const G = 'rbac.authorization.k8s.io';
const empty = (): ExistingRbac => ({ clusterRoles: [], clusterRoleBindings: [], roleBindings: [] });
const allRoles = () => TEMPLATE_NAMES.map((t) => clusterRoleFor(t));

const nsGrant = (name: string, namespace: string, template = 'bke-workloads-view'): Grant => ({ subject: { kind: 'User', name }, scope: { kind: 'namespace', namespace }, template });
const clusterGrant = (name: string, template = 'cluster-readonly', kind: 'User' | 'Group' = 'User'): Grant => ({ subject: { kind, name }, scope: { kind: 'cluster' }, template });

function crb(name: string, user: string, role: string, labels: Record<string, string> = { [LABEL_CRB_USER]: user, [LABEL_CRB_FROM]: '' }): V1ClusterRoleBinding {
  return { metadata: { name, labels }, subjects: [{ apiGroup: G, kind: 'User', name: user }], roleRef: { apiGroup: G, kind: 'ClusterRole', name: role } };
}
function rb(name: string, namespace: string, user: string, role: string, labels: Record<string, string> = { [LABEL_RB_USER]: user }): V1RoleBinding {
  return { metadata: { name, namespace, labels }, subjects: [{ apiGroup: G, kind: 'User', name: user }], roleRef: { apiGroup: G, kind: 'ClusterRole', name: role } };
}

/** What the cluster would hold after applying the plan (names made up for generateName). */
function simulate(existing: ExistingRbac, plan: ReturnType<typeof planRbac>): ExistingRbac {
  const roles = new Map(existing.clusterRoles.map((r) => [r.metadata!.name!, r]));
  for (const c of plan.ensureRoles) roles.set(c.role.metadata!.name!, c.role);
  for (const r of plan.removeRoles) roles.delete(r.name);
  const gone = new Set(plan.remove.map((r) => `${r.kind}/${r.namespace ?? ''}/${r.name}`));
  let n = 0;
  return {
    clusterRoles: [...roles.values()],
    clusterRoleBindings: [
      ...existing.clusterRoleBindings.filter((b) => !gone.has(`ClusterRoleBinding//${b.metadata!.name}`)),
      ...plan.create.filter((c) => c.kind === 'ClusterRoleBinding').map((c) => ({ ...c.body, metadata: { ...c.body.metadata, name: `crb-${n++}` } })),
    ],
    roleBindings: [
      ...existing.roleBindings.filter((b) => !gone.has(`RoleBinding/${b.metadata!.namespace}/${b.metadata!.name}`)),
      ...plan.create.filter((c) => c.kind === 'RoleBinding').map((c) => ({ ...c.body, metadata: { ...c.body.metadata, name: `rb-${n++}` } }) as V1RoleBinding),
    ],
  };
}

describe('RBAC templates', () => {
  it('has the six original templates with the exact rules', () => {
    assert.deepEqual([...TEMPLATE_NAMES].sort(), ['cluster-manage', 'cluster-readonly', 'services-manage', 'services-view', 'workloads-manage', 'workloads-view']);
    assert.deepEqual(ROLE_TEMPLATES['cluster-manage'], [
      { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
      { verbs: ['*'], nonResourceURLs: ['*'] },
    ]);
    assert.deepEqual(ROLE_TEMPLATES['services-view'], [{ verbs: ['get', 'list', 'watch'], apiGroups: ['*'], resources: ['services', 'endpoints'] }]);
    const view = ROLE_TEMPLATES['workloads-view'];
    const manage = ROLE_TEMPLATES['workloads-manage'];
    assert.equal(view.length, 2);
    assert.deepEqual(manage[0].verbs, ['*']);
    assert.deepEqual(manage[0].resources, view[0].resources);
    assert.deepEqual(manage[1], view[1]);
    assert.ok(view[0].resources!.includes('pods/exec') && view[0].resources!.includes('deployments/rollback'));
    assert.deepEqual(view[1].resources, ['limitranges', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status', 'bindings']);
    const role = clusterRoleFor('workloads-view');
    assert.equal(role.metadata!.name, 'bke-workloads-view');
    assert.equal(role.metadata!.labels![LABEL_ROLE_TEMPLATE], 'workloads-view');
  });
});

describe('planRbac', () => {
  it('creates missing roles and bindings, namespace-scoped as RoleBindings to the ClusterRole', () => {
    const plan = planRbac([nsGrant('plain.alice', 'ns1'), clusterGrant('plain.bob')], empty());
    assert.deepEqual(plan.ensureRoles.map((r) => [r.action, r.role.metadata!.name]), [
      ['create', 'bke-cluster-readonly'],
      ['create', 'bke-workloads-view'],
    ]);
    assert.equal(plan.remove.length, 0);
    const rbPlan = plan.create.find((c) => c.kind === 'RoleBinding')!;
    assert.ok(rbPlan.kind === 'RoleBinding');
    assert.equal(rbPlan.namespace, 'ns1');
    assert.deepEqual(rbPlan.body.metadata, { generateName: 'rolebinding-', namespace: 'ns1', labels: { [LABEL_RB_USER]: 'plain.alice' } });
    assert.deepEqual(rbPlan.body.roleRef, { apiGroup: G, kind: 'ClusterRole', name: 'bke-workloads-view' });
    assert.deepEqual(rbPlan.body.subjects, [{ apiGroup: G, kind: 'User', name: 'plain.alice' }]);
    const crbPlan = plan.create.find((c) => c.kind === 'ClusterRoleBinding')!;
    assert.deepEqual(crbPlan.body.metadata, { generateName: 'clusterrolebinding-', labels: { [LABEL_CRB_USER]: 'plain.bob', [LABEL_CRB_FROM]: '' } });
    assert.deepEqual(crbPlan.body.roleRef, { apiGroup: G, kind: 'ClusterRole', name: 'bke-cluster-readonly' });
  });

  it('is idempotent: planning against the applied result is empty, and duplicate grants collapse', () => {
    const grants = [nsGrant('plain.alice', 'ns1'), nsGrant('plain.alice', 'ns1', 'workloads-view'), clusterGrant('devs', 'services-view', 'Group'), clusterGrant('user:odd name')];
    const first = planRbac(grants, empty());
    assert.equal(first.create.length, 3);
    const after = simulate(empty(), first);
    assert.ok(isEmptyPlan(planRbac(grants, after)), JSON.stringify(planRbac(grants, after)));
    // Names are kept as given; label values are made valid.
    const odd = first.create.find((c) => c.body.subjects![0].name === 'user:odd name')!;
    assert.match(odd.body.metadata!.labels![LABEL_CRB_USER], /^x-[0-9a-f]{40}$/);
  });

  it('removes our bindings that are no longer granted, and duplicates, but leaves foreign objects alone', () => {
    const existing: ExistingRbac = {
      clusterRoles: [...allRoles(), { metadata: { name: 'admin' }, rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] }],
      clusterRoleBindings: [
        crb('clusterrolebinding-a', 'plain.bob', 'bke-cluster-readonly'),
        crb('clusterrolebinding-b', 'plain.bob', 'bke-cluster-readonly'),
        crb('clusterrolebinding-old', 'plain.carol', 'bke-cluster-manage'),
        crb('someone-elses', 'plain.carol', 'bke-cluster-manage', { team: 'x' }),
        crb('no-labels', 'plain.dave', 'admin', {}),
      ],
      roleBindings: [rb('rolebinding-x', 'ns1', 'plain.alice', 'bke-workloads-view'), rb('foreign', 'ns1', 'plain.alice', 'bke-workloads-manage', {})],
    };
    const plan = planRbac([clusterGrant('plain.bob')], existing);
    assert.deepEqual(plan.ensureRoles, []);
    assert.deepEqual(plan.create, []);
    assert.deepEqual(
      plan.remove.map((r) => [r.kind, r.namespace, r.name, r.reason]),
      [
        ['ClusterRoleBinding', undefined, 'clusterrolebinding-b', 'duplicate'],
        ['ClusterRoleBinding', undefined, 'clusterrolebinding-old', 'not-granted'],
        ['RoleBinding', 'ns1', 'rolebinding-x', 'not-granted'],
      ],
    );
    // Removing every grant removes only our bindings and never roles.
    const none = planRbac([], existing);
    assert.deepEqual(none.remove.map((r) => r.name).sort(), ['clusterrolebinding-a', 'clusterrolebinding-b', 'clusterrolebinding-old', 'rolebinding-x']);
    assert.deepEqual(none.ensureRoles, []);
  });

  it('replaces an owned binding whose content was changed (wrong subject, role or extra subjects)', () => {
    const tampered = crb('clusterrolebinding-t', 'plain.bob', 'bke-cluster-readonly');
    tampered.subjects!.push({ apiGroup: G, kind: 'User', name: 'plain.mallory' });
    const plan = planRbac([clusterGrant('plain.bob')], { ...empty(), clusterRoles: allRoles(), clusterRoleBindings: [tampered] });
    assert.deepEqual(plan.remove.map((r) => [r.name, r.reason]), [['clusterrolebinding-t', 'malformed']]);
    assert.equal(plan.create.length, 1);
  });

  it('distinguishes namespace from cluster scope and one namespace from another', () => {
    const existing: ExistingRbac = { clusterRoles: allRoles(), clusterRoleBindings: [crb('clusterrolebinding-a', 'plain.alice', 'bke-workloads-view')], roleBindings: [rb('rolebinding-a', 'ns2', 'plain.alice', 'bke-workloads-view')] };
    const plan = planRbac([nsGrant('plain.alice', 'ns1')], existing);
    assert.deepEqual(plan.create.map((c) => [c.kind, c.kind === 'RoleBinding' ? c.namespace : '']), [['RoleBinding', 'ns1']]);
    assert.deepEqual(plan.remove.map((r) => r.name).sort(), ['clusterrolebinding-a', 'rolebinding-a']);
  });

  it('updates a template role whose rules drifted, or that lacks our label, keeping its metadata', () => {
    const drifted: V1ClusterRole = { ...clusterRoleFor('workloads-view'), rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] };
    drifted.metadata = { ...drifted.metadata, resourceVersion: '42' };
    const unlabelled: V1ClusterRole = { metadata: { name: 'bke-cluster-readonly', labels: { keep: 'me' } }, rules: clusterRoleFor('cluster-readonly').rules };
    // Absent vs empty lists are not drift.
    const same = clusterRoleFor('services-view');
    same.rules = same.rules!.map((r) => ({ ...r, resourceNames: [], nonResourceURLs: undefined }));
    const plan = planRbac([nsGrant('a', 'ns1'), clusterGrant('b'), clusterGrant('c', 'services-view')], { ...empty(), clusterRoles: [drifted, unlabelled, same] });
    assert.deepEqual(plan.ensureRoles.map((r) => [r.action, r.role.metadata!.name, r.reason]), [
      ['update', 'bke-cluster-readonly', 'unlabelled'],
      ['update', 'bke-workloads-view', 'rules-drift'],
    ]);
    const upd = plan.ensureRoles[1].role;
    assert.equal(upd.metadata!.resourceVersion, '42');
    assert.deepEqual(upd.rules, ROLE_TEMPLATES['workloads-view']);
    assert.deepEqual(plan.ensureRoles[0].role.metadata!.labels, { keep: 'me', [LABEL_ROLE_TEMPLATE]: 'cluster-readonly' });
  });

  it('removes the ClusterRole of a deleted template with the bindings to it, and no role it did not make', () => {
    const ours = (name: string, template: string): V1ClusterRole => ({ metadata: { name, labels: { [LABEL_ROLE_TEMPLATE]: template } }, rules: [] });
    const existing: ExistingRbac = {
      ...empty(),
      clusterRoles: [ours('bke-deployer', 'deployer'), ours('custom-name', 'gone'), { metadata: { name: 'bke-legacy' }, rules: [] }, clusterRoleFor('workloads-view')],
      roleBindings: [rb('rb-old', 'ns1', 'a', 'bke-deployer')],
    };
    const plan = planRbac([nsGrant('a', 'ns1')], existing);
    assert.deepEqual(plan.removeRoles, [{ name: 'bke-deployer', template: 'deployer', reason: 'template-deleted' }]);
    assert.deepEqual(plan.remove.map((r) => [r.name, r.reason]), [['rb-old', 'malformed']]);
    assert.deepEqual(plan.ensureRoles, []);
    assert.ok(isEmptyPlan(planRbac([nsGrant('a', 'ns1')], simulate(existing, plan))));
    // A custom template that still exists keeps its role.
    assert.deepEqual(planRbac([], existing, catalogWith([['deployer', [{ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] }]]])).removeRoles.map((r) => r.name), []);
  });

  it('rejects unknown templates and bad scopes', () => {
    assert.throws(() => planRbac([clusterGrant('a', 'cluster-manager')], empty()), (e: unknown) => e instanceof RbacPlanError && /bke-cluster-manager/.test(e.message));
    assert.throws(() => planRbac([nsGrant('a', 'Bad_NS')], empty()), RbacPlanError);
    assert.throws(() => planRbac([nsGrant('', 'ns1')], empty()), RbacPlanError);
  });
});
