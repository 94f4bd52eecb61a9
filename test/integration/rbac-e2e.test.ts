import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kubectl } from '../helpers/fake-kube';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { bindingsFor, rbacConfig, rbacObjects, waitUntil } from '../helpers/rbac';

const RB = 'rbac.authorization.k8s.io';

interface Status {
  result: string | null;
  trigger: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  nextRetryAt: string | null;
  lastChangedAt: string | null;
  lastChanges: { rolesCreated: string[]; rolesUpdated: string[]; created: { kind: string; name: string; namespace: string | null }[]; removed: { kind: string; name: string; namespace: string | null }[] } | null;
}
const STATUS_FIELDS = 'result trigger lastError consecutiveFailures nextRetryAt lastChangedAt lastChanges { rolesCreated rolesUpdated created { kind name namespace } removed { kind name namespace } }';

async function syncStatus(env: GatewayEnv): Promise<Status> {
  const r = await env.graphql<{ rbacSyncStatus: Status }>(env.gw.adminToken, `query($c: String!) { rbacSyncStatus(clusterId: $c) { ${STATUS_FIELDS} } }`, { c: env.clusterId });
  assert.ok(r.data, JSON.stringify(r.errors));
  return r.data.rbacSyncStatus;
}

const GRANT = 'mutation($i: CreateRbacGrantInput!) { createRbacGrant(input: $i) { id subjectName kubernetesSubject source editable active clusterId scope namespace template } }';

describe('RBAC grants end to end: GraphQL → sync → kubectl through the gateway', () => {
  let env: GatewayEnv;
  let aliceKc: string;
  let grantId: number;

  before(async () => {
    env = await startGatewayEnv('sqlite', { rbac: rbacConfig({ reconcileIntervalSeconds: 2 }) });
    env.fake.addPod('ns1', 'web-1');
    env.fake.addPod('ns2', 'db-1');
    aliceKc = await env.kubeconfigFor(env.alice.token, 'alice');
  });
  after(async () => env?.stop());

  it('grants alice bke-workloads-view on ns1: she lists pods there, not in ns2, and cannot exec', async () => {
    const before = await kubectl(['get', 'pods', '-n', 'ns1'], { kubeconfig: aliceKc });
    assert.notEqual(before.code, 0, 'no access before the grant');

    const r = await env.graphql<{ createRbacGrant: Record<string, unknown> }>(env.gw.adminToken, GRANT, {
      i: { subjectKind: 'USER', subjectName: 'plain:alice', clusterId: env.clusterId, scope: 'NAMESPACE', namespace: 'ns1', template: 'bke-workloads-view' },
    });
    assert.ok(r.data, JSON.stringify(r.errors));
    const g = r.data.createRbacGrant;
    assert.deepEqual(
      { ...g, id: undefined },
      { id: undefined, subjectName: 'plain:alice', kubernetesSubject: 'plain.alice', source: 'GRAPHQL', editable: true, active: true, clusterId: env.clusterId, scope: 'NAMESPACE', namespace: 'ns1', template: 'workloads-view' },
    );
    grantId = g.id as number;

    const status = await waitUntil('the grant to be applied', async () => {
      const s = await syncStatus(env);
      return s.result === 'OK' && s.lastChanges?.created.some((c) => c.kind === 'RoleBinding' && c.namespace === 'ns1') ? s : undefined;
    });
    assert.deepEqual(status.lastChanges!.rolesCreated, ['bke-workloads-view']);
    assert.equal(status.lastError, null);
    const [binding] = bindingsFor(env.fake, 'rolebindings', 'plain.alice', 'bke-workloads-view');
    assert.equal(binding?.metadata.namespace, 'ns1');
    assert.equal(binding?.metadata.labels?.['rolebinding.user.bke.bcs'], 'plain.alice');

    const metrics = await (await fetch(`${new URL(env.tunnelUrl('/')).origin}/metrics`)).text();
    assert.match(metrics, /^bcs_api_rbac_syncs_total\{result="ok"\} [1-9]/m);
    assert.match(metrics, /^bcs_api_rbac_objects_changed_total\{action="created"\} [2-9]/m, 'the ClusterRole and the RoleBinding');

    const ns1 = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: aliceKc });
    assert.equal(ns1.code, 0, ns1.stderr);
    assert.match(ns1.stdout, /pod\/web-1/);
    const ns2 = await kubectl(['get', 'pods', '-n', 'ns2'], { kubeconfig: aliceKc });
    assert.notEqual(ns2.code, 0);
    assert.match(ns2.stderr, /forbidden: User "plain\.alice" cannot list resource "pods"/);
    const exec = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'ok'], { kubeconfig: aliceKc });
    assert.notEqual(exec.code, 0);
    assert.match(exec.stderr, /forbidden/i);
    assert.doesNotMatch(exec.stdout, /^ok/m);
  });

  it('restores a managed binding deleted or edited inside the cluster at the next periodic reconcile', async () => {
    const [binding] = bindingsFor(env.fake, 'rolebindings', 'plain.alice', 'bke-workloads-view');
    env.fake.emit('DELETED', binding!);
    assert.equal(bindingsFor(env.fake, 'rolebindings', 'plain.alice', 'bke-workloads-view').length, 0);
    const back = await waitUntil('the deleted binding to come back', () => bindingsFor(env.fake, 'rolebindings', 'plain.alice', 'bke-workloads-view')[0]);
    assert.equal(back.metadata.namespace, 'ns1');
    assert.equal((await syncStatus(env)).trigger, 'periodic');

    // Someone points our binding at another user: it is replaced by a correct one, the hijacked one removed.
    env.fake.apply({ ...back, subjects: [{ apiGroup: RB, kind: 'User', name: 'mallory' }] } as never);
    await waitUntil('the edited binding to be replaced', () =>
      bindingsFor(env.fake, 'rolebindings', 'plain.alice', 'bke-workloads-view').length === 1 && bindingsFor(env.fake, 'rolebindings', 'mallory', 'bke-workloads-view').length === 0,
    );
    const ns1 = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: aliceKc });
    assert.equal(ns1.code, 0, ns1.stderr);
  });

  it('revoking the grant removes the binding and the access', async () => {
    const r = await env.graphql(env.gw.adminToken, 'mutation($id: Int!) { deleteRbacGrant(id: $id) { id } }', { id: grantId });
    assert.ok(r.data, JSON.stringify(r.errors));
    await waitUntil('the binding to go', () => bindingsFor(env.fake, 'rolebindings', 'plain.alice', 'bke-workloads-view').length === 0);
    const s = await waitUntil('the status to show the removal', async () => {
      const st = await syncStatus(env);
      return st.lastChanges?.removed.some((x) => x.kind === 'RoleBinding' && x.namespace === 'ns1') ? st : undefined;
    });
    assert.equal(s.result, 'OK');
    const denied = await kubectl(['get', 'pods', '-n', 'ns1'], { kubeconfig: aliceKc });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /forbidden/);
    // The ClusterRole stays (other grants may come back to it); nothing without our labels was touched.
    assert.ok(rbacObjects(env.fake, 'clusterroles').some((r) => r.metadata.name === 'bke-workloads-view'));
  });

  it('refuses bad grants with errors naming the field, and only super users may grant', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ subjectKind: 'GROUP', subjectName: 'system:masters', scope: 'CLUSTER', template: 'cluster-manage' }, 'BAD_USER_INPUT', /reserved by Kubernetes/],
      [{ subjectKind: 'USER', subjectName: 'plain:alice', clusterId: 'BCS-K8S-4000', scope: 'CLUSTER', template: 'cluster-readonly' }, 'BAD_USER_INPUT', /no cluster with id 'BCS-K8S-4000'/],
      [{ subjectKind: 'USER', subjectName: 'plain:nobody', scope: 'CLUSTER', template: 'cluster-readonly' }, 'BAD_USER_INPUT', /no gateway user named 'plain:nobody'/],
      [{ subjectKind: 'USER', subjectName: 'plain:alice', scope: 'NAMESPACE', template: 'cluster-readonly' }, 'BAD_USER_INPUT', /input\.namespace/],
      [{ subjectKind: 'USER', subjectName: 'plain:alice', scope: 'CLUSTER', namespace: 'ns1', template: 'cluster-readonly' }, 'BAD_USER_INPUT', /only allowed with the namespace scope/],
      [{ subjectKind: 'USER', subjectName: 'plain:alice', scope: 'CLUSTER', template: 'cluster-manager' }, 'BAD_USER_INPUT', /no role template named 'cluster-manager'/],
    ];
    for (const [input, code, message] of cases) {
      const r = await env.graphql(env.gw.adminToken, GRANT, { i: input });
      assert.equal(r.errors?.[0]?.extensions?.code, code, JSON.stringify(input));
      assert.match(r.errors![0]!.message, message);
    }
    const input = { subjectKind: 'GROUP', subjectName: 'dev', clusterId: env.clusterId, scope: 'CLUSTER', template: 'services-view' };
    const first = await env.graphql<{ createRbacGrant: { id: number } }>(env.gw.adminToken, GRANT, { i: input });
    assert.ok(first.data, JSON.stringify(first.errors));
    const dup = await env.graphql(env.gw.adminToken, GRANT, { i: input });
    assert.equal(dup.errors?.[0]?.extensions?.code, 'CONFLICT');
    const byAlice = await env.graphql(env.alice.token, GRANT, { i: { ...input, template: 'cluster-manage' } });
    assert.equal(byAlice.errors?.[0]?.extensions?.code, 'FORBIDDEN');

    // alice sees the grants that concern her (her group's), nobody else's.
    const seen = await env.graphql<{ rbacGrants: { edges: { node: { subjectName: string } }[] } }>(env.alice.token, '{ rbacGrants { edges { node { subjectName } } } }');
    assert.deepEqual(seen.data?.rbacGrants.edges.map((e) => e.node.subjectName), ['dev']);
    const status = await env.graphql(env.alice.token, `query($c: String!) { rbacSyncStatus(clusterId: $c) { result } }`, { c: env.clusterId });
    assert.equal(status.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    await env.graphql(env.gw.adminToken, 'mutation($id: Int!) { deleteRbacGrant(id: $id) { id } }', { id: first.data.createRbacGrant.id });
  });
});

describe('RBAC dry run, manual resync, custom templates and failures', () => {
  let env: GatewayEnv;
  let aliceKc: string;

  before(async () => {
    // No periodic reconcile during this suite: drift stays until someone resyncs.
    env = await startGatewayEnv('sqlite', { rbac: rbacConfig({ reconcileIntervalSeconds: 3600 }) });
    env.fake.addPod('ns2', 'db-1');
    aliceKc = await env.kubeconfigFor(env.alice.token, 'alice');
  });
  after(async () => env?.stop());

  it('a custom template granted to a group reaches its members', async () => {
    const t = await env.graphql(env.gw.adminToken, 'mutation { createRbacTemplate(name: "pods-reader", rules: [{ verbs: ["get", "list"], apiGroups: [""], resources: ["pods"] }]) { name roleName builtin version } }');
    assert.deepEqual(t.data, { createRbacTemplate: { name: 'pods-reader', roleName: 'bke-pods-reader', builtin: false, version: 1 } });
    const bad = await env.graphql(env.gw.adminToken, 'mutation { createRbacTemplate(name: "broken", rules: [{ verbs: ["get"], resources: ["pods"] }]) { name } }');
    assert.match(bad.errors?.[0]?.message ?? '', /apiGroups/);
    const builtin = await env.graphql(env.gw.adminToken, 'mutation { createRbacTemplate(name: "cluster-manage", rules: [{ verbs: ["get"], apiGroups: [""], resources: ["pods"] }]) { name } }');
    assert.equal(builtin.errors?.[0]?.extensions?.code, 'CONFLICT');

    const g = await env.graphql(env.gw.adminToken, GRANT, { i: { subjectKind: 'GROUP', subjectName: 'dev', scope: 'CLUSTER', template: 'pods-reader' } });
    assert.ok(g.data, JSON.stringify(g.errors));
    await waitUntil('the group binding', () => bindingsFor(env.fake, 'clusterrolebindings', 'dev', 'bke-pods-reader').length === 1);
    const list = await kubectl(['get', 'pods', '-n', 'ns2', '-o', 'name'], { kubeconfig: aliceKc });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /pod\/db-1/);

    const inUse = await env.graphql(env.gw.adminToken, 'mutation { deleteRbacTemplate(name: "pods-reader") { name } }');
    assert.equal(inUse.errors?.[0]?.extensions?.code, 'CONFLICT');
    const upd = await env.graphql(env.gw.adminToken, 'mutation { updateRbacTemplate(name: "pods-reader", expectedVersion: 1, rules: [{ verbs: ["get", "list", "watch"], apiGroups: [""], resources: ["pods"] }]) { version } }');
    assert.deepEqual(upd.data, { updateRbacTemplate: { version: 2 } }, JSON.stringify(upd.errors));
    await waitUntil('the ClusterRole rules to follow the template', () => {
      const role = rbacObjects(env.fake, 'clusterroles').find((r) => r.metadata.name === 'bke-pods-reader') as unknown as { rules: { verbs: string[] }[] } | undefined;
      return role?.rules[0]?.verbs.includes('watch');
    });
    const stale = await env.graphql(env.gw.adminToken, 'mutation { updateRbacTemplate(name: "pods-reader", expectedVersion: 1, rules: [{ verbs: ["get"], apiGroups: [""], resources: ["pods"] }]) { version } }');
    assert.equal(stale.errors?.[0]?.extensions?.code, 'CONFLICT');
  });

  it('a dry run shows the repair without applying it; resync applies it and the status says so', async () => {
    const [binding] = bindingsFor(env.fake, 'clusterrolebindings', 'dev', 'bke-pods-reader');
    env.fake.emit('DELETED', binding!);
    const dry = await env.graphql<{ rbacDryRun: { server: string; roles: unknown[]; create: Record<string, unknown>[]; remove: unknown[] } }>(
      env.gw.adminToken,
      'query($c: String!) { rbacDryRun(clusterId: $c) { server roles { action roleName } create { kind namespace subjectKind subjectName roleName } remove { kind name reason } } }',
      { c: env.clusterId },
    );
    assert.ok(dry.data, JSON.stringify(dry.errors));
    assert.equal(dry.data.rbacDryRun.server, env.fake.url);
    assert.deepEqual(dry.data.rbacDryRun.create, [{ kind: 'ClusterRoleBinding', namespace: null, subjectKind: 'Group', subjectName: 'dev', roleName: 'bke-pods-reader' }]);
    assert.deepEqual(dry.data.rbacDryRun.roles, []);
    assert.deepEqual(dry.data.rbacDryRun.remove, []);
    assert.equal(bindingsFor(env.fake, 'clusterrolebindings', 'dev', 'bke-pods-reader').length, 0, 'a dry run applies nothing');

    const r = await env.graphql<{ resyncClusterRbac: Status }>(env.gw.adminToken, `mutation($c: String!) { resyncClusterRbac(clusterId: $c) { ${STATUS_FIELDS} } }`, { c: env.clusterId });
    assert.ok(r.data, JSON.stringify(r.errors));
    const s = r.data.resyncClusterRbac;
    assert.equal(s.result, 'OK');
    assert.equal(s.trigger, 'manual');
    assert.deepEqual(s.lastChanges?.created.map((c) => c.kind), ['ClusterRoleBinding']);
    assert.equal(bindingsFor(env.fake, 'clusterrolebindings', 'dev', 'bke-pods-reader').length, 1);
  });

  it('records a failing cluster with its error and a retry time, and recovers', async () => {
    const remove = env.fake.addFault({ match: { path: /^\/apis\/rbac\.authorization\.k8s\.io\// }, action: { kind: 'respond', code: 500, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'etcd is down', code: 500 } } });
    try {
      const r = await env.graphql<{ resyncClusterRbac: Status }>(env.gw.adminToken, `mutation($c: String!) { resyncClusterRbac(clusterId: $c) { ${STATUS_FIELDS} } }`, { c: env.clusterId });
      const s = r.data!.resyncClusterRbac;
      assert.equal(s.result, 'FAILED');
      assert.match(s.lastError ?? '', /etcd is down/);
      assert.equal(s.consecutiveFailures, 1);
      assert.ok(s.nextRetryAt && new Date(s.nextRetryAt) > new Date(), 'a retry is scheduled');
      const dry = await env.graphql(env.gw.adminToken, 'query($c: String!) { rbacDryRun(clusterId: $c) { server } }', { c: env.clusterId });
      // A cluster that fails is worth a retry: UNAVAILABLE (HTTP 503 with Retry-After), not a server error.
      assert.equal(dry.errors?.[0]?.extensions?.code, 'UNAVAILABLE');
      assert.match(dry.errors![0]!.message, /cluster BCS-K8S-40001: 500: etcd is down/);
    } finally {
      remove();
    }
    const r = await env.graphql<{ resyncClusterRbac: Status }>(env.gw.adminToken, `mutation($c: String!) { resyncClusterRbac(clusterId: $c) { ${STATUS_FIELDS} } }`, { c: env.clusterId });
    assert.equal(r.data!.resyncClusterRbac.result, 'OK');
    assert.equal(r.data!.resyncClusterRbac.consecutiveFailures, 0);
    assert.equal(r.data!.resyncClusterRbac.nextRetryAt, null);
    const unknown = await env.graphql(env.gw.adminToken, 'mutation { resyncClusterRbac(clusterId: "BCS-K8S-404") { result } }');
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'NOT_FOUND');
  });
});
