/**
 * The `/bcsapi/v4` module passthroughs (storage, detection, metric, netservice, clusterkeeper) end to end:
 * a real ZooKeeper, the whole gateway in process, and fake modules registered as the original's modules
 * register (ephemeral sequential nodes with ServerInfo JSON under /bcs/services/endpoints/<module>).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../../src/domain/auth';
import { createCluster } from '../../src/domain/clusters';
import { createGrant } from '../../src/domain/rbac-grants';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { startTestApp, type TestApp } from '../helpers/app';
import { FakeModuleServer, ModuleRegistration } from '../helpers/fake-modules';
import { waitFor, ZooKeeperServer } from '../helpers/zookeeper';
import { envelopeOf, fullGc, pump, send, type Reply } from './module-passthrough-fixtures';

const ROUTES = [
  { route: 'storage', module: 'storage', upstream: '/bcsstorage/v1/' },
  { route: 'detection', module: 'networkdetection', upstream: '/detection/v4/' },
  { route: 'metric', module: 'metricservice', upstream: '/api/v1/metric/' },
  { route: 'netservice', module: 'netservice', upstream: '/v1/' },
  { route: 'clusterkeeper', module: 'clusterkeeper', upstream: '/bcsclusterkeeper/v1/' },
] as const;
const SESSION_SECONDS = 4;

describe('/bcsapi/v4 module passthroughs over ZooKeeper discovery', () => {
  let zk: ZooKeeperServer;
  let gw: TestApp;
  let alice: string;
  const fakes = new Map<string, FakeModuleServer>();
  const registrations = new Map<string, ModuleRegistration>();
  const admin = (path: string, method = 'GET', headers: Record<string, string> = {}, body?: string | Buffer): Promise<Reply> =>
    send(gw.url, method, path, { authorization: `Bearer ${gw.adminToken}`, ...headers }, body);

  before(async () => {
    zk = await ZooKeeperServer.start();
    gw = await startTestApp('sqlite', {
      zookeeper: zk.connectString,
      zookeeperClient: { sessionTimeoutSeconds: SESSION_SECONDS },
      modules: { connectTimeoutSeconds: 1, responseTimeoutSeconds: 1 },
    });
    for (const { module } of ROUTES) {
      const fake = await FakeModuleServer.start(module);
      fakes.set(module, fake);
      registrations.set(module, await ModuleRegistration.register(zk.connectString, module, { ip: '127.0.0.1', port: fake.port }));
    }
    const ctx = () => gw.app.runtime.context();
    const actor = await authenticate(ctx().em, gw.adminToken, new Date());
    alice = (await issueToken(ctx(), undefined, await createUser(ctx(), undefined, { name: 'alice' }), {})).secret;
    for (const id of ['BCS-K8S-A', 'BCS-K8S-B']) await createCluster(ctx(), undefined, { id, clusterType: 'k8s' });
    await createGrant(ctx(), actor, { subjectKind: 'User', subjectName: 'alice', clusterId: 'BCS-K8S-A', scope: 'cluster', template: 'cluster-readonly' });
    await waitFor('every module discovered', async () => (await Promise.all(ROUTES.map((r) => admin(`/bcsapi/v4/${r.route}/ping`)))).every((r) => r.status === 200), 10_000);
  });
  after(async () => {
    for (const r of registrations.values()) r.close();
    for (const f of fakes.values()) f.close();
    await gw?.stop();
    await zk?.dispose();
  });

  it('each passthrough reaches its module at the upstream path with the query, method and body; status and headers come back', async () => {
    for (const { route, module, upstream } of ROUTES) {
      const fake = fakes.get(module)!;
      fake.handler = (_req, res, seen) => {
        res.writeHead(seen.method === 'POST' ? 201 : 207, { 'content-type': 'application/json', 'x-module': module });
        res.end(JSON.stringify({ saw: seen.url }));
      };
      for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
        fake.seen.length = 0;
        const body = method === 'GET' || method === 'DELETE' ? undefined : `{"from":"${route}-${method}"}`;
        const res = await admin(`/bcsapi/v4/${route}/a/b%20c/d?x=1&y=two`, method, body ? { 'content-type': 'application/json' } : {}, body);
        assert.equal(res.status, method === 'POST' ? 201 : 207, `${route} ${method}: the module's status`);
        assert.equal(res.headers['x-module'], module);
        assert.deepEqual(JSON.parse(res.body), { saw: `${upstream}a/b%20c/d?x=1&y=two` });
        assert.equal(fake.seen.length, 1);
        assert.equal(fake.seen[0]!.method, method);
        assert.equal(fake.seen[0]!.url, `${upstream}a/b%20c/d?x=1&y=two`);
        assert.equal(fake.seen[0]!.body, body ?? '');
      }
      fake.handler = undefined;
      const patch = await admin(`/bcsapi/v4/${route}/a`, 'PATCH');
      assert.equal(patch.status, 405);
      assert.equal(patch.headers.allow, 'GET, POST, PUT, DELETE');
    }
    for (const p of ['a/%2e%2e/%2e%2e/etc', '../../admin', 'a/%2F/b']) {
      const escape = await admin(`/bcsapi/v4/storage/${p}`);
      assert.equal(escape.status, 400, `${p}: dot segments and encoded separators cannot leave the module prefix`);
    }
  });

  it('a storage watch reaches the client chunk by chunk, and is exempt from the response deadline', { timeout: 15_000 }, async () => {
    const fake = fakes.get('storage')!;
    let firstArrived!: () => void;
    const arrived = new Promise<void>((r) => (firstArrived = r));
    const written: number[] = [];
    fake.handler = (_req, res) => {
      // Headers later than the 1 s response deadline: a watch is still served.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"type":"ADDED","data":{"name":"a"}}\n');
        written.push(Date.now());
        // The last event is written only once the client has the first: buffering would never finish.
        void arrived.then(() => {
          res.end('{"type":"DELETED","data":{"name":"a"}}\n');
          written.push(Date.now());
        });
      }, 1300);
    };
    const received = await new Promise<{ at: number; text: string }[]>((resolve, reject) => {
      const chunks: { at: number; text: string }[] = [];
      const req = http.request(`${gw.url}/bcsapi/v4/storage/dynamic/watch/BCS-K8S-A/Pod`, { method: 'POST', headers: { authorization: `Bearer ${gw.adminToken}`, 'content-type': 'application/json' } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.on('data', (c: Buffer) => {
          chunks.push({ at: Date.now(), text: c.toString() });
          firstArrived();
        });
        res.on('end', () => resolve(chunks));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end('{"maxEvents":0,"timeout":0}');
    });
    fake.handler = undefined;
    assert.ok(received.length >= 2, 'at least two chunks');
    assert.ok(received[0]!.at <= written[1]!, 'the first event arrived before the last was written');
    assert.equal(received.map((c) => c.text).join(''), '{"type":"ADDED","data":{"name":"a"}}\n{"type":"DELETED","data":{"name":"a"}}\n');
  });

  it('64 MiB each way streams through with bounded gateway memory', async () => {
    const fake = fakes.get('storage')!;
    const SIZE = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let uploaded = 0;
    fake.raw = (req, res) => {
      if (req.method === 'PUT') {
        req.on('data', (c: Buffer) => (uploaded += c.length));
        req.on('end', () => res.end('{"result":true}'));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      pump(res, SIZE, chunk);
    };
    const gc = fullGc();
    gc();
    const base = process.memoryUsage().arrayBuffers;
    const BOUND = 48 * 1024 * 1024;
    let peak = 0;
    // Buffers live outside the JS heap: a gateway holding the body shows here. A reading over the bound
    // is taken again after a full collection, so only buffers still held count, not chunks not yet freed.
    const sampler = setInterval(() => {
      if (process.memoryUsage().arrayBuffers - base < BOUND) return;
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    }, 10);
    try {
      const downloaded = await new Promise<number>((resolve, reject) => {
        http.get(`${gw.url}/bcsapi/v4/storage/big`, { headers: { authorization: `Bearer ${gw.adminToken}` } }, (res) => {
          let n = 0;
          res.on('data', (c: Buffer) => (n += c.length));
          res.on('end', () => resolve(n));
          res.on('error', reject);
        }).on('error', reject);
      });
      assert.equal(downloaded, SIZE);
      const put = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${gw.url}/bcsapi/v4/storage/big`, { method: 'PUT', headers: { authorization: `Bearer ${gw.adminToken}`, 'content-length': String(SIZE) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        pump(req, SIZE, chunk);
      });
      assert.equal(put, 200);
      assert.equal(uploaded, SIZE);
    } finally {
      clearInterval(sampler);
      fake.raw = undefined;
    }
    // Client, gateway and module share this process: a gateway holding either body would add 64 MiB.
    process.stderr.write(`module passthrough 64 MiB each way: largest buffer memory held after a collection ${Math.round(peak / 1024 / 1024)} MiB (bound ${BOUND / 1024 / 1024} MiB)\n`);
    assert.ok(peak < BOUND, `buffer memory held: ${Math.round(peak / 1024 / 1024)} MiB`);
  });

  it('a module that refuses, stalls or resets: 502/504 envelopes with 1405053, and the gateway keeps serving', async () => {
    // Refused: the only metricservice server listens nowhere.
    const dead = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    registrations.get('metricservice')!.close();
    const deadReg = await ModuleRegistration.register(zk.connectString, 'metricservice', { ip: '127.0.0.1', port: dead });
    const refused = await waitFor('routed to the dead server', async () => {
      const r = await admin('/bcsapi/v4/metric/clusters/BCS-K8S-A/metrics');
      return r.status === 502 ? r : undefined;
    });
    assert.deepEqual(envelopeOf(refused), { result: false, code: 1405053, data: null });
    assert.match(JSON.parse(refused.body).message, /^\(bcs-api\):request metricservice failed: ECONNREFUSED/);
    deadReg.close();
    registrations.set('metricservice', await ModuleRegistration.register(zk.connectString, 'metricservice', { ip: '127.0.0.1', port: fakes.get('metricservice')!.port }));
    await waitFor('metricservice back', async () => (await admin('/bcsapi/v4/metric/metrics')).status === 200);

    // Stalls: netservice accepts and never answers; the 1 s response deadline gives 504.
    const net1 = fakes.get('netservice')!;
    net1.handler = () => undefined;
    const startedAt = Date.now();
    const slow = await admin('/bcsapi/v4/netservice/pools');
    assert.equal(slow.status, 504);
    assert.deepEqual(envelopeOf(slow), { result: false, code: 1405053, data: null });
    assert.ok(Date.now() - startedAt < 5000, 'answered near the deadline');
    net1.handler = undefined;

    // Resets after the head: the client's response is cut, not completed as if whole.
    const keeper = fakes.get('clusterkeeper')!;
    keeper.handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
      setTimeout(() => req.socket.destroy(), 50);
    };
    const cut = await new Promise<string>((resolve) => {
      http.get(`${gw.url}/bcsapi/v4/clusterkeeper/nodes`, { headers: { authorization: `Bearer ${gw.adminToken}` } }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve('complete'));
        res.on('error', () => resolve('cut'));
        res.on('aborted', () => resolve('cut'));
      }).on('error', () => resolve('cut'));
    });
    assert.equal(cut, 'cut');
    keeper.handler = undefined;
    assert.equal((await admin('/bcsapi/v4/clusterkeeper/nodes')).status, 200, 'the gateway keeps serving');
    assert.equal((await admin('/bcsapi/v4/netservice/pools')).status, 200);
  });

  it('alice with a grant on cluster A reads A and is refused B (1405058); writes need more; no token is 401', async () => {
    const as = (path: string, method = 'GET', headers: Record<string, string> = {}) => send(gw.url, method, path, { authorization: `Bearer ${alice}`, ...headers }, method === 'GET' ? undefined : '{}');
    assert.equal((await as('/bcsapi/v4/storage/query/k8s/dynamic/clusters/BCS-K8S-A/pod')).status, 200);
    assert.equal((await as('/bcsapi/v4/storage/query/k8s/dynamic/clusters/BCS-K8S-A/pod', 'POST')).status, 200, 'a query POST is a read');
    const other = await as('/bcsapi/v4/storage/query/k8s/dynamic/clusters/BCS-K8S-B/pod');
    assert.equal(other.status, 403);
    assert.deepEqual(envelopeOf(other), { result: false, code: 1405058, data: null });
    assert.equal((await as('/bcsapi/v4/metric/metrics', 'GET', { 'BCS-ClusterID': 'BCS-K8S-B' })).status, 403, 'the header names the cluster too');
    assert.equal((await as('/bcsapi/v4/metric/metrics', 'GET', { 'BCS-ClusterID': 'BCS-K8S-A' })).status, 200);
    assert.equal((await as('/bcsapi/v4/storage/dynamic/clusters/BCS-K8S-A/pod', 'PUT')).status, 403, 'a read-only grant does not write');
    assert.equal((await as('/bcsapi/v4/storage/events')).status, 200, 'no cluster: any authenticated caller reads');
    assert.equal((await as('/bcsapi/v4/storage/events', 'DELETE')).status, 403, 'no cluster: writes need a super user');
    assert.equal((await admin('/bcsapi/v4/storage/events', 'DELETE')).status, 200);
    const anonymous = await send(gw.url, 'GET', '/bcsapi/v4/storage/events', {});
    assert.equal(anonymous.status, 401);
    assert.equal(envelopeOf(anonymous).code, 1405059);
    assert.equal((await send(gw.url, 'GET', '/bcsapi/v4/storage/events', { authorization: 'Bearer not-a-token' })).status, 401);
  });

  it('credentials, Impersonate-* and Connection-named headers never reach the module; BCS-ClusterID and others do', async () => {
    const fake = fakes.get('storage')!;
    fake.seen.length = 0;
    const res = await send(gw.url, 'GET', '/bcsapi/v4/storage/events', {
      authorization: `Bearer ${gw.adminToken}`,
      'x-bcs-user-token': 'user-token-value',
      'x-bkapi-jwt': 'jwt-value',
      'impersonate-user': 'system:admin',
      'impersonate-group': 'system:masters',
      cookie: 'session=secret',
      connection: 'keep-alive, x-secret',
      'x-secret': 'must-not-pass',
      'bcs-clusterid': 'BCS-K8S-A',
      'x-request-label': 'kept',
    });
    assert.equal(res.status, 200);
    const h = fake.seen[0]!.headers;
    for (const name of ['authorization', 'x-bcs-user-token', 'x-bkapi-jwt', 'impersonate-user', 'impersonate-group', 'cookie', 'x-secret']) assert.equal(h[name], undefined, `${name} stripped`);
    assert.ok(!JSON.stringify(h).includes(gw.adminToken), 'the gateway token appears nowhere');
    assert.equal(h['bcs-clusterid'], 'BCS-K8S-A');
    assert.equal(h['x-request-label'], 'kept');
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
  });

  it("the module's node removed from ZooKeeper: 503 with the module's code within the session timeout", async () => {
    const startedAt = Date.now();
    registrations.get('storage')!.close();
    const gone = await waitFor('storage gone', async () => {
      const r = await admin('/bcsapi/v4/storage/events');
      return r.status === 503 ? r : undefined;
    }, SESSION_SECONDS * 1000);
    assert.ok(Date.now() - startedAt <= SESSION_SECONDS * 1000);
    assert.deepEqual(envelopeOf(gone), { result: false, code: 1405052, data: null });
    assert.equal(JSON.parse(gone.body).message, '(bcs-api):bcs storage not found');
    registrations.get('clusterkeeper')!.close();
    const keeper = await waitFor('clusterkeeper gone', async () => {
      const r = await admin('/bcsapi/v4/clusterkeeper/nodes');
      return r.status === 503 ? r : undefined;
    }, SESSION_SECONDS * 1000);
    assert.equal(envelopeOf(keeper).code, 1405054);
  });
});
