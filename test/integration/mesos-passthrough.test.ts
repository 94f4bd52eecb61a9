import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createProxy, type ProxySurfaces } from '../../proxy';
import type { AdmissionOutcome, AdmissionRunner } from '../../proxy/webhooks/types';
import type { ServerInfo } from '../../src/discovery/types';
import { authenticate } from '../../src/domain/auth';
import { createCluster } from '../../src/domain/clusters';
import { createGrant, deleteGrant } from '../../src/domain/rbac-grants';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { requestListener } from '../../src/http/server';
import { createRegistry } from '../../src/metrics';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { StaticDiscovery } from '../helpers/fake-driver';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function fakeDriver(name: string, seen: Seen[], reply: (s: Seen) => { status: number; type: string; body: string } = () => ({ status: 200, type: 'application/json', body: '{"result":true}' })): Promise<{ server: http.Server; info: ServerInfo }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(s);
      const r = reply(s);
      res.writeHead(r.status, { 'content-type': r.type, 'x-driver': name });
      res.end(r.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, info: { ip: '127.0.0.1', port: (server.address() as AddressInfo).port, scheme: 'http', cluster: 'BCS-MESOS-10001' } };
}

describe('Mesos and k8s driver passthrough', () => {
  let t: TestRuntime;
  let surfaces: ProxySurfaces;
  let gateway: http.Server;
  let url: string;
  let admin: string;
  let alice: string;
  const discovery = new StaticDiscovery();
  const seen: Seen[] = [];
  const drivers: http.Server[] = [];
  let admission: AdmissionOutcome | undefined;
  const runner: AdmissionRunner = { admit: async (_op, body) => admission ?? { allowed: true, body } };

  before(async () => {
    t = await startTestRuntime('sqlite');
    const ctx = t.rt.context();
    const root = await createUser(ctx, undefined, { name: 'root', isSuperUser: true });
    admin = (await issueToken(ctx, undefined, root, {})).secret;
    alice = (await issueToken(ctx, undefined, await createUser(ctx, undefined, { name: 'alice' }), {})).secret;
    surfaces = await createProxy(t.rt, createRegistry(), {
      discovery,
      admission: runner,
      webhookRoutes: async (method, uri) => (uri === 'admissionwebhooks' && method === 'GET' ? { status: 200, body: { result: true, code: 0, message: 'success', data: [] } } : undefined),
    });
    gateway = http.createServer(requestListener(surfaces.mounts, t.rt.logger, false));
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  });
  after(async () => {
    gateway?.close();
    drivers.forEach((d) => d.close());
    await surfaces?.stop();
    await t?.stop();
  });
  beforeEach(() => {
    seen.length = 0;
    discovery.current = 'connected';
    discovery.servers.clear();
    admission = undefined;
  });

  const call = (path: string, init: RequestInit & { token?: string; cluster?: string } = {}) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${init.token ?? admin}`, ...(init.cluster === undefined ? { 'BCS-ClusterID': 'BCS-MESOS-10001' } : init.cluster ? { 'BCS-ClusterID': init.cluster } : {}), ...(init.headers as Record<string, string>) },
    });

  it('forwards to a live driver with the driver status, content type and body, never the gateway token', async () => {
    const d = await fakeDriver('d1', seen, () => ({ status: 201, type: 'text/yaml', body: 'created: yes' }));
    drivers.push(d.server);
    discovery.servers.set('mesosdriver/BCS-MESOS-10001', [d.info]);
    const res = await call('/bcsapi/v4/scheduler/mesos/namespaces/ns1/applications?x=1', { method: 'POST', body: '{"kind":"application"}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('content-type'), 'text/yaml');
    assert.equal(await res.text(), 'created: yes');
    assert.equal(seen[0]!.url, '/mesosdriver/v4/namespaces/ns1/applications?x=1');
    assert.equal(seen[0]!.headers['bcs-clusterid'], 'BCS-MESOS-10001');
    assert.equal(seen[0]!.headers.authorization, undefined);
    assert.equal(seen[0]!.body, '{"kind":"application"}');
  });

  it('converts application/x-yaml bodies to JSON and rejects bad YAML with 1405065', async () => {
    const d = await fakeDriver('d1', seen);
    drivers.push(d.server);
    discovery.servers.set('mesosdriver/BCS-MESOS-10001', [d.info]);
    const ok = await call('/bcsapi/v4/scheduler/mesos/namespaces/ns1/applications', { method: 'POST', body: 'kind: application\nmetadata:\n  name: web\n', headers: { 'content-type': 'application/x-yaml' } });
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(seen[0]!.body), { kind: 'application', metadata: { name: 'web' } });
    assert.equal(seen[0]!.headers['content-type'], 'application/json');
    const bad = await call('/bcsapi/v4/scheduler/mesos/namespaces/ns1/applications', { method: 'POST', body: 'a: [unclosed', headers: { 'content-type': 'application/x-yaml' } });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { result: boolean; code: number; message: string };
    assert.equal(body.code, 1405065);
    assert.equal(body.result, false);
    assert.match(body.message, /^\(bcs-api\):request yaml convert to json error/);
    assert.equal(seen.length, 1);
  });

  it("answers the original's errors: missing header, no driver, ZooKeeper not configured", async () => {
    const noHeader = await call('/bcsapi/v4/scheduler/mesos/cluster/resources', { cluster: '' });
    assert.equal(noHeader.status, 400);
    assert.deepEqual(await noHeader.json(), { result: false, code: 1405007, message: "(bcs-api):http header BCS-ClusterID can't be empty", data: null });
    const none = await call('/bcsapi/v4/scheduler/mesos/cluster/resources');
    assert.equal(none.status, 503);
    assert.equal(((await none.json()) as { code: number }).code, 1405051);
    const k8s = await call('/bcsapi/v4/scheduler/k8s/nodes');
    assert.equal(((await k8s.json()) as { code: number }).code, 1405056);
    discovery.current = 'disabled';
    const off = await call('/bcsapi/v4/scheduler/mesos/cluster/resources');
    assert.equal(off.status, 503);
    assert.match(((await off.json()) as { message: string }).message, /ZooKeeper discovery is not configured/);
  });

  it('needs a gateway token, and a grant for a normal user', async () => {
    const anon = await fetch(`${url}/bcsapi/v4/scheduler/mesos/cluster/resources`, { headers: { 'BCS-ClusterID': 'BCS-MESOS-10001' } });
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as { code: number }).code, 1405059);
    const normal = await call('/bcsapi/v4/scheduler/mesos/cluster/resources', { token: alice });
    assert.equal(normal.status, 403);
    assert.match(((await normal.json()) as { message: string }).message, /alice needs a grant on cluster BCS-MESOS-10001/);
  });

  it('lets a normal user in by grants: any grant reads, a writing template writes, a namespace grant only in its namespace', async () => {
    const d = await fakeDriver('d1', seen);
    drivers.push(d.server);
    discovery.servers.set('mesosdriver/BCS-MESOS-10001', [d.info]);
    discovery.servers.set('mesosdriver/BCS-MESOS-10002', [d.info]);
    const ctx = () => t.rt.context();
    const actor = await authenticate(ctx().em, admin, new Date());
    for (const id of ['BCS-MESOS-10001', 'BCS-MESOS-10002']) await createCluster(ctx(), undefined, { id, clusterType: 'mesos' });
    const get = (cluster = 'BCS-MESOS-10001') => call('/bcsapi/v4/scheduler/mesos/cluster/resources', { token: alice, cluster });
    const post = () => call('/bcsapi/v4/scheduler/mesos/namespaces/ns1/applications', { token: alice, method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });

    const nsOnly = await createGrant(ctx(), actor, { subjectKind: 'User', subjectName: 'alice', clusterId: 'BCS-MESOS-10001', scope: 'namespace', namespace: 'ns2', template: 'cluster-manage' });
    assert.equal((await get()).status, 403);
    const readonly = await createGrant(ctx(), actor, { subjectKind: 'User', subjectName: 'alice', clusterId: 'BCS-MESOS-10001', scope: 'cluster', template: 'cluster-readonly' });
    assert.equal((await get()).status, 200);
    assert.equal((await get('BCS-MESOS-10002')).status, 403, 'a grant on one cluster says nothing about another');
    const refused = await post();
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { message: string }).message, /template allows writes/);

    const manage = await createGrant(ctx(), actor, { subjectKind: 'Group', subjectName: 'ops', clusterId: null, scope: 'cluster', template: 'workloads-manage' });
    assert.equal((await post()).status, 403, 'alice is not in ops');
    await deleteGrant(ctx(), actor, manage.id);
    const everyCluster = await createGrant(ctx(), actor, { subjectKind: 'User', subjectName: 'alice', clusterId: null, scope: 'cluster', template: 'workloads-manage' });
    assert.equal((await post()).status, 200);
    assert.equal((await get('BCS-MESOS-10002')).status, 200);

    for (const g of [nsOnly, readonly, everyCluster]) await deleteGrant(ctx(), actor, g.id);
    assert.equal((await get()).status, 403, 'revoking takes effect at once');
  });

  it('retries a refused connection once on another driver', async () => {
    const d = await fakeDriver('d2', seen);
    drivers.push(d.server);
    const dead = await fakeDriver('dead', seen);
    await new Promise<void>((r) => dead.server.close(() => r()));
    discovery.servers.set('mesosdriver/BCS-MESOS-10001', [dead.info, d.info]);
    for (let i = 0; i < 6; i += 1) {
      const res = await call('/bcsapi/v4/scheduler/mesos/cluster/resources');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-driver'), 'd2');
    }
    discovery.servers.set('mesosdriver/BCS-MESOS-10001', [dead.info]);
    const down = await call('/bcsapi/v4/scheduler/mesos/cluster/resources');
    assert.equal(down.status, 502);
    assert.equal(((await down.json()) as { code: number }).code, 1405053);
  });

  it('uses the external address when the driver registers one', async () => {
    const d = await fakeDriver('ext', seen);
    drivers.push(d.server);
    discovery.servers.set('kubernetedriver/BCS-K8S-1', [{ ip: '10.255.255.1', port: 1, scheme: 'http', external_ip: '127.0.0.1', external_port: d.info.port }]);
    const res = await call('/bcsapi/v4/scheduler/k8s/namespaces/default/pods', { method: 'PATCH', body: '{}', cluster: 'BCS-K8S-1' });
    assert.equal(res.status, 200);
    assert.equal(seen[0]!.url, '/k8sdriver/v4/namespaces/default/pods');
  });

  it('rejects a write a webhook fails, with 1405234 naming it, and forwards nothing', async () => {
    const d = await fakeDriver('d1', seen);
    drivers.push(d.server);
    discovery.servers.set('mesosdriver/BCS-MESOS-10001', [d.info]);
    admission = { allowed: false, webhook: 'policy-check', reason: 'image not allowed' };
    const res = await call('/bcsapi/v4/scheduler/mesos/namespaces/ns1/applications', { method: 'POST', body: '{"kind":"application"}' });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { result: false, code: 1405234, message: '(bcs-api):request webhook policy-check error image not allowed', data: null });
    assert.equal(seen.length, 0);
    admission = { allowed: true, body: Buffer.from('{"kind":"application","mutated":true}') };
    await call('/bcsapi/v4/scheduler/mesos/namespaces/ns1/applications', { method: 'PUT', body: '{"kind":"application"}' });
    assert.equal(seen[0]!.body, '{"kind":"application","mutated":true}');
  });

  it('serves the admission webhook routes from the gateway, not the driver', async () => {
    const res = await call('/bcsapi/v4/scheduler/mesos/admissionwebhooks');
    assert.deepEqual(await res.json(), { result: true, code: 0, message: 'success', data: [] });
    assert.equal(seen.length, 0);
  });

  it('refuses paths that would leave the driver API', async () => {
    // Raw requests: fetch would normalise the dot segments away before sending.
    for (const p of ['../../admin', '%2e%2e/x', 'a/%2F/b', 'ns/..%2f..%2fx']) {
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: new URL(url).port, path: `/bcsapi/v4/scheduler/mesos/${p}`, headers: { authorization: `Bearer ${admin}`, 'BCS-ClusterID': 'BCS-MESOS-10001' } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
      assert.equal(status, 400, p);
    }
    assert.equal(seen.length, 0);
  });
});
