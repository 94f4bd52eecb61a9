import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { RbacClient, syncClusterRbac, type RbacCredentials } from '../../src/rbac/apply';
import { isEmptyPlan, planRbac, type Grant } from '../../src/rbac/plan';
import { catalogWith, LABEL_RB_USER } from '../../src/domain/role-templates';
import { startFakeKube, type FakeKube, type KubeObject } from '../helpers/fake-kube';
import { findDef } from '../helpers/fake-kube/resources';

/** A SelfSubjectAccessReview made by the gateway SA impersonating `user`: what the apiserver would decide. */
function canI(fake: FakeKube, user: string, verb: string, resource: string, namespace: string): Promise<boolean> {
  const body = JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb, resource, namespace } } });
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${fake.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`,
      { method: 'POST', ca: fake.caPem, servername: 'kubernetes', headers: { authorization: `Bearer ${fake.token}`, 'impersonate-user': user, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          if (res.statusCode !== 201) return reject(new Error(`SSAR ${res.statusCode}: ${text}`));
          resolve(Boolean((JSON.parse(text) as { status?: { allowed?: boolean } }).status?.allowed));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const listVia = (fake: FakeKube, resource: string): KubeObject[] => fake.store.list(findDef('rbac.authorization.k8s.io', resource)!);

describe('RBAC sync core against the fake kube-apiserver', () => {
  let fake: FakeKube;
  let creds: RbacCredentials;
  const alice: Grant = { subject: { kind: 'User', name: 'plain.alice' }, scope: { kind: 'namespace', namespace: 'ns1' }, template: 'bke-workloads-view' };

  before(async () => {
    fake = await startFakeKube();
    fake.addNamespace('ns1');
    fake.addNamespace('ns2');
    // A dead address first: the client must move on to the one that answers.
    creds = { clusterId: 'BCS-K8S-00001', serverAddresses: ['https://127.0.0.1:1', fake.url], caCertData: fake.caPem, userToken: fake.token };
    // Someone else's binding of the same role to alice in ns2: never ours to touch.
    fake.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'hand-made', namespace: 'ns2', labels: { team: 'ops' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bke-services-view' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'plain.alice' }],
    });
  });
  after(async () => fake?.stop());

  it('grants plain.alice bke-workloads-view in ns1 only', async () => {
    assert.equal(await canI(fake, 'plain.alice', 'list', 'pods', 'ns1'), false);
    const { plan, result } = await syncClusterRbac(creds, [alice], { timeoutMs: 5000 });
    assert.equal(result.server, fake.url);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(result.rolesCreated, ['bke-workloads-view']);
    assert.equal(plan.create.length, 1);
    assert.equal(result.created.length, 1);
    assert.equal(result.created[0].kind, 'RoleBinding');
    assert.equal(result.created[0].namespace, 'ns1');
    assert.match(result.created[0].name, /^rolebinding-/);

    const rb = listVia(fake, 'rolebindings').find((o) => o.metadata.name === result.created[0].name)!;
    assert.deepEqual(rb.metadata.labels, { [LABEL_RB_USER]: 'plain.alice' });
    assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bke-workloads-view' });

    assert.equal(await canI(fake, 'plain.alice', 'list', 'pods', 'ns1'), true);
    assert.equal(await canI(fake, 'plain.alice', 'delete', 'pods', 'ns1'), false);
    assert.equal(await canI(fake, 'plain.alice', 'list', 'pods', 'ns2'), false);
    assert.equal(await canI(fake, 'plain.bob', 'list', 'pods', 'ns1'), false);
    // The fake's own authorizer agrees.
    const user = { username: 'plain.alice', groups: ['system:authenticated'], extra: {} };
    const attrs = { verb: 'list', isResourceRequest: true, apiGroup: '', resource: 'pods', subresource: '', name: '', path: '/api/v1/namespaces/ns1/pods' };
    assert.equal(fake.rbac.allowed(user, { ...attrs, namespace: 'ns1' }), true);
    assert.equal(fake.rbac.allowed(user, { ...attrs, namespace: 'ns2' }), false);
  });

  it('re-applying is a no-op', async () => {
    const before = fake.requests.length;
    const { plan, result } = await syncClusterRbac(creds, [alice]);
    assert.ok(isEmptyPlan(plan), JSON.stringify(plan));
    assert.deepEqual([result.rolesCreated, result.rolesUpdated, result.created, result.removed, result.failed], [[], [], [], [], []]);
    const writes = fake.requests.slice(before).filter((r) => r.method !== 'GET');
    assert.deepEqual(writes.map((r) => `${r.method} ${r.url}`), []);
  });

  it('restores a deleted binding and a drifted role', async () => {
    const ours = listVia(fake, 'rolebindings').filter((o) => o.metadata.labels?.[LABEL_RB_USER]);
    assert.equal(ours.length, 1);
    fake.store.delete(findDef('rbac.authorization.k8s.io', 'rolebindings')!, 'ns1', ours[0].metadata.name!);
    const role = listVia(fake, 'clusterroles').find((o) => o.metadata.name === 'bke-workloads-view')!;
    fake.apply({ ...role, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'] }] });
    assert.equal(await canI(fake, 'plain.alice', 'list', 'pods', 'ns1'), false);

    const { client, existing } = await RbacClient.connect(creds);
    const plan = planRbac([alice], existing);
    assert.deepEqual(plan.ensureRoles.map((r) => [r.action, r.reason]), [['update', 'rules-drift']]);
    assert.equal(plan.create.length, 1);
    const result = await client.apply(plan);
    assert.deepEqual(result.rolesUpdated, ['bke-workloads-view']);
    assert.equal(result.created.length, 1);
    assert.equal(await canI(fake, 'plain.alice', 'list', 'pods', 'ns1'), true);
  });

  it('adopts an unlabelled bke- role left by the original bcs-api', async () => {
    fake.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'bke-cluster-readonly' }, rules: [] });
    const bob: Grant = { subject: { kind: 'User', name: 'plain.bob' }, scope: { kind: 'cluster' }, template: 'cluster-readonly' };
    const { result } = await syncClusterRbac(creds, [alice, bob]);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(result.rolesUpdated, ['bke-cluster-readonly']);
    assert.equal(await canI(fake, 'plain.bob', 'list', 'pods', 'ns2'), true);
  });

  it('removing the grants removes only our bindings', async () => {
    const { result } = await syncClusterRbac(creds, []);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(result.removed.map((r) => r.kind).sort(), ['ClusterRoleBinding', 'RoleBinding']);
    assert.equal(await canI(fake, 'plain.alice', 'list', 'pods', 'ns1'), false);
    assert.equal(await canI(fake, 'plain.bob', 'list', 'pods', 'ns2'), false);
    // Foreign binding, default bindings and the roles themselves stay.
    assert.ok(listVia(fake, 'rolebindings').some((o) => o.metadata.name === 'hand-made'));
    assert.ok(listVia(fake, 'clusterrolebindings').some((o) => o.metadata.name === 'system:basic-user'));
    assert.ok(listVia(fake, 'clusterroles').some((o) => o.metadata.name === 'bke-workloads-view'));
    assert.ok(isEmptyPlan((await syncClusterRbac(creds, [])).plan));
  });

  it('removes the ClusterRole of a deleted custom template, after the bindings to it', async () => {
    const deployer: Grant = { subject: { kind: 'User', name: 'plain.dora' }, scope: { kind: 'namespace', namespace: 'ns2' }, template: 'deployer' };
    const catalog = catalogWith([['deployer', [{ verbs: ['get', 'list'], apiGroups: ['apps'], resources: ['deployments'] }]]]);
    const made = await syncClusterRbac(creds, [alice, deployer], { timeoutMs: 5000, catalog });
    assert.deepEqual(made.result.rolesCreated, ['bke-deployer']);
    assert.ok(listVia(fake, 'clusterroles').some((r) => r.metadata.name === 'bke-deployer'));

    // The template is gone (it could only be deleted once no grant used it): the role goes with its binding.
    const { plan, result } = await syncClusterRbac(creds, [alice], { timeoutMs: 5000 });
    assert.deepEqual(plan.removeRoles.map((r) => r.name), ['bke-deployer']);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(result.removed.map((r) => r.kind).sort(), ['ClusterRole', 'RoleBinding']);
    const roles = listVia(fake, 'clusterroles').map((r) => r.metadata.name);
    assert.ok(!roles.includes('bke-deployer'));
    assert.ok(roles.includes('bke-workloads-view'), 'the roles of existing templates stay');
    assert.ok(isEmptyPlan((await syncClusterRbac(creds, [alice], { timeoutMs: 5000 })).plan));
  });

  it('gives up on a request that hangs past the per-request timeout', async () => {
    const undo = fake.addFault({ match: { path: /clusterrolebindings/ }, action: { kind: 'delay', ms: 2000 } });
    try {
      const started = Date.now();
      await assert.rejects(RbacClient.connect({ ...creds, serverAddresses: [fake.url] }, { timeoutMs: 200 }), /abort/i);
      assert.ok(Date.now() - started < 1500);
    } finally {
      undo();
    }
  });

  it('fails on a bad token with the HTTP error, without trying other addresses', async () => {
    await assert.rejects(RbacClient.connect({ ...creds, serverAddresses: [fake.url], userToken: 'nope' }), /401|Unauthorized/i);
  });
});
