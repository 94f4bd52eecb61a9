import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeSubscriptionServer } from '../helpers/fake-subscription';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { bindingsFor, rbacConfig, waitUntil } from '../helpers/rbac';

const APP = 'bcs-api';
const event = (over: Record<string, unknown> = {}) => ({
  operation: 'add',
  principal: { principal_type: 'user', principal_id: 'bob' },
  action: 'services-view',
  resource_type: 'namespace',
  resource_instance: { cluster: 'bcs-k8s-40001', namespace: 'ns1' },
  policy_from: 'common',
  ...over,
});

describe('RBAC grant sources: the config file and the permission subscription (wss)', () => {
  let env: GatewayEnv;
  let sub: FakeSubscriptionServer;
  let dir: string;

  before(async () => {
    sub = await FakeSubscriptionServer.start({ tls: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-rbac-src-'));
    fs.writeFileSync(path.join(dir, 'sub-ca.pem'), sub.caPem!);
    env = await startGatewayEnv('sqlite', {
      rbac: rbacConfig({
        reconcileIntervalSeconds: 3600,
        turnOnConf: true,
        // The user and cluster do not exist yet at start-up: the grant is kept and applied once they do.
        rbacData: [{ userName: 'plain:alice', clusterId: 'BCS-K8S-40001', roles: ['cluster-readonly', 'no-such-role'] }],
        turnOnAuth: true,
        subscription: { url: sub.url, appCode: APP, appSecret: 's3cret', caFile: path.join(dir, 'sub-ca.pem') },
      }),
    });
    env.fake.addNamespace('ns1');
  });
  after(async () => {
    await env?.stop();
    await sub?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies rbac_data grants, shows them read-only, and skips unknown roles', async () => {
    const crb = await waitUntil('the config grant binding', () => bindingsFor(env.fake, 'clusterrolebindings', 'plain.alice', 'bke-cluster-readonly')[0]);
    assert.equal(crb.metadata.labels?.['clusterrolebinding.from.bke.bcs'], '');
    assert.equal(bindingsFor(env.fake, 'clusterrolebindings', 'plain.alice', 'bke-no-such-role').length, 0);
    const r = await env.graphql<{ rbacGrants: { edges: { node: { id: number; template: string; editable: boolean; active: boolean; grantedBy: string } }[] } }>(
      env.gw.adminToken,
      '{ rbacGrants(filter: { source: CONFIG }) { edges { node { id template editable active grantedBy } } } }',
    );
    const nodes = r.data!.rbacGrants.edges.map((e) => e.node);
    assert.deepEqual(nodes.map((n) => [n.template, n.editable, n.active, n.grantedBy]), [['cluster-readonly', false, true, 'config']]);
    const del = await env.graphql(env.gw.adminToken, 'mutation($id: Int!) { deleteRbacGrant(id: $id) { id } }', { id: nodes[0]!.id });
    assert.equal(del.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    assert.match(del.errors![0]!.message, /config file \(rbac_data\)/);
  });

  it('subscribes over wss with Basic credentials, applies add frames and acks them after the cluster has them', async () => {
    const conn = await waitUntil('the gateway to subscribe', () => sub.current, 10_000);
    assert.equal(conn.authorization, `Basic ${Buffer.from(`${APP}:s3cret`).toString('base64')}`);
    sub.sendHi(APP, 'w1');
    sub.sendData(APP, 'd1', event());
    const ack = await waitUntil('ack of d1', () => sub.acks.find((a) => a.data_id === 'd1'));
    assert.deepEqual(ack, { app_code: APP, type: 'ack', worker_id: 'w1', data_id: 'd1' });
    // The cluster id matched exactly, case aside; the name is mapped as the proxy impersonates it.
    const [rb] = bindingsFor(env.fake, 'rolebindings', 'user.bob', 'bke-services-view');
    assert.equal(rb?.metadata.namespace, 'ns1', 'the binding existed when the ack was sent');
    const g = await env.graphql<{ rbacGrants: { edges: { node: { subjectName: string; source: string; grantedBy: string } }[] } }>(
      env.gw.adminToken,
      '{ rbacGrants(filter: { source: SUBSCRIPTION }) { edges { node { subjectName source grantedBy } } } }',
    );
    assert.deepEqual(g.data!.rbacGrants.edges.map((e) => e.node.subjectName), ['user:bob']);
    assert.match(g.data!.rbacGrants.edges[0]!.node.grantedBy, /worker w1 data d1/);
  });

  it('does not ack a frame for a cluster that only matches part of an id, nor a system: principal', async () => {
    sub.sendData(APP, 'd2', event({ resource_instance: { cluster: 'BCS-K8S-4000', namespace: 'ns1' } }));
    sub.sendData(APP, 'd3', event({ principal: { principal_type: 'system', principal_id: 'masters' }, resource_type: 'cluster', resource_instance: { cluster: 'BCS-K8S-40001' } }));
    // Frames are applied in order: once d4 is acked, d2 and d3 have been handled.
    sub.sendData(APP, 'd4', event({ resource_type: 'cluster', resource_instance: { cluster: '*' }, action: 'cluster-readonly', principal: { principal_type: 'user', principal_id: 'carol' }, policy_from: 'pattern_policy' }));
    await waitUntil('ack of d4', () => sub.acks.find((a) => a.data_id === 'd4'));
    assert.deepEqual(sub.acks.map((a) => a.data_id), ['d1', 'd4']);
    const [crb] = bindingsFor(env.fake, 'clusterrolebindings', 'user.carol', 'bke-cluster-readonly');
    assert.equal(crb?.metadata.labels?.['clusterrolebinding.from.bke.bcs'], 'from-any-cluster');
    assert.equal(bindingsFor(env.fake, 'clusterrolebindings', 'system.masters', 'bke-cluster-readonly').length, 0);
  });

  it('does not ack while the cluster refuses the change, and applies it when the frame is resent', async () => {
    const remove = env.fake.addFault({ match: { method: 'POST', path: /rolebindings$/ }, action: { kind: 'respond', code: 500, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'etcd is down', code: 500 } } });
    sub.sendData(APP, 'd5', event({ principal: { principal_type: 'user', principal_id: 'dave' } }));
    sub.sendData(APP, 'd6', event({ operation: 'add', action: 'workloads-view', resource_instance: { cluster: 'BCS-K8S-40001', namespace: 'ns9' }, policy_from: 'pattern_policy' }));
    await waitUntil('ack of d6 (a namespace pattern policy: skipped, as the original did)', () => sub.acks.find((a) => a.data_id === 'd6'));
    assert.equal(sub.acks.find((a) => a.data_id === 'd5'), undefined);
    remove();
    sub.sendData(APP, 'd5', event({ principal: { principal_type: 'user', principal_id: 'dave' } }));
    await waitUntil('ack of the resent d5', () => sub.acks.find((a) => a.data_id === 'd5'));
    assert.equal(bindingsFor(env.fake, 'rolebindings', 'user.dave', 'bke-services-view').length, 1);
  });

  it('removes the binding on a delete frame, and keeps subscribing after the server drops the connection', async () => {
    sub.dropAll();
    const again = await waitUntil('a new subscription', () => (sub.connections.length > 1 ? sub.current : undefined), 15_000);
    sub.sendHi(APP, 'w2', again);
    sub.sendData(APP, 'd7', event({ operation: 'delete' }));
    const ack = await waitUntil('ack of d7', () => sub.acks.find((a) => a.data_id === 'd7'));
    assert.equal(ack.worker_id, 'w2');
    assert.equal(bindingsFor(env.fake, 'rolebindings', 'user.bob', 'bke-services-view').length, 0);
    assert.equal(bindingsFor(env.fake, 'rolebindings', 'user.dave', 'bke-services-view').length, 1, 'only the revoked grant went');
    const st = await env.graphql<{ rbacSubscription: { state: string; url: string; acked: number; failed: number; reconnects: number; lastAckAt: string | null } }>(
      env.gw.adminToken,
      '{ rbacSubscription { state url acked failed reconnects lastAckAt } }',
    );
    const s = st.data!.rbacSubscription;
    assert.equal(s.state, 'CONNECTED');
    assert.equal(s.url, sub.url);
    // d1 d4 d6 d5 d7 acked; d2 d3 and the first d5 not.
    assert.deepEqual([s.acked, s.failed, s.reconnects], [5, 3, 1]);
    assert.ok(s.lastAckAt);
    assert.doesNotMatch(JSON.stringify(st), /s3cret/);
  });
});
