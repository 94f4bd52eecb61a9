import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createProxy, type ProxySurfaces } from '../../proxy';
import type { AdmissionRunner } from '../../proxy/webhooks/types';
import type { DiscoveryState, DriverDiscovery, DriverModule, ServerInfo } from '../../src/discovery/types';
import { createCluster } from '../../src/domain/clusters';
import { authenticate } from '../../src/domain/auth';
import { createRegisterToken, rotateRegisterToken } from '../../src/domain/register-tokens';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { startListeners, type Listening } from '../../src/http/server';
import type { ClusterType } from '../../src/store/entities';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { generateCerts } from '../helpers/fake-kube/certs';
import { TunnelAgent } from '../helpers/tunnel-agent';
import { waitFor } from '../helpers/wait';

/** Discovery as the passthrough sees it (the ZooKeeper informer has its own suites). */
class StaticDiscovery implements DriverDiscovery {
  servers = new Map<string, ServerInfo[]>();
  current: DiscoveryState = 'connected';
  drivers(module: DriverModule, clusterId: string): ServerInfo[] {
    return this.servers.get(`${module}/${clusterId}`) ?? [];
  }
  state(): DiscoveryState {
    return this.current;
  }
}

interface FakeDriver {
  name: string;
  port: number;
  seen: { method: string; url: string; body: string }[];
  server: http.Server;
}

async function fakeDriver(name: string): Promise<FakeDriver> {
  const seen: FakeDriver['seen'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body });
      res.writeHead(200, { 'content-type': 'application/json', 'x-driver': name }).end(JSON.stringify({ result: true, data: { driver: name } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { name, port: (server.address() as AddressInfo).port, seen, server };
}

const MESOS = 'BCS-MESOS-20001';
const OTHER_MESOS = 'BCS-MESOS-20002';
const K8S = 'BCS-K8S-20003';

/**
 * Drivers that connect with `mesos-driver` / `k8s-driver` tunnels: each reports an address on a network
 * the gateway cannot reach (10.255.x), which the test driver maps to a fake driver on loopback, so a
 * request that arrives went through the tunnel. ZooKeeper knows no driver unless a test adds one.
 */
describe('driver tunnels: the Mesos and k8s passthrough through drivers connected over the tunnel', () => {
  let t: TestRuntime;
  let proxy: ProxySurfaces;
  let listening: Listening;
  let gatewayUrl: string;
  let admin: string;
  const tokens: Record<string, string> = {};
  const discovery = new StaticDiscovery();
  const admitted: string[] = [];
  const open: TunnelAgent[] = [];
  const fakes: FakeDriver[] = [];
  // The webhook stand-in labels what it admits, so the forwarded body shows it ran.
  const admission: AdmissionRunner = {
    admit: async (operation, body) => {
      admitted.push(operation);
      const o = JSON.parse(body.toString()) as { metadata?: Record<string, unknown> };
      return { allowed: true, body: Buffer.from(JSON.stringify({ ...o, metadata: { ...o.metadata, labels: { admitted: 'yes' } } })) };
    },
  };

  const connectDriver = async (o: { cluster: string; fake: FakeDriver; reported: string; module?: string; token?: string }): Promise<TunnelAgent> => {
    const agent = await TunnelAgent.connect({
      gatewayUrl,
      clusterId: o.cluster,
      registerToken: o.token ?? tokens[o.cluster]!,
      module: o.module ?? 'mesos-driver',
      address: `http://${o.reported}`,
      dialTo: () => ({ host: '127.0.0.1', port: o.fake.port }),
    });
    open.push(agent);
    return agent;
  };
  const refusal = (o: Parameters<typeof connectDriver>[0]): Promise<{ status: number; body: string }> =>
    connectDriver(o).then(
      () => assert.fail('the driver handshake must be refused'),
      (e: { status: number; body: string }) => e,
    );
  const call = (path: string, cluster: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${gatewayUrl}${path}`, { ...init, headers: { authorization: `Bearer ${admin}`, 'BCS-ClusterID': cluster, ...(init.headers as Record<string, string>) }, signal: AbortSignal.timeout(20_000) });
  const liveDrivers = (cluster: string) => proxy.driverTunnels.live('mesos-driver', cluster).length;

  before(async () => {
    t = await startTestRuntime('sqlite', { plain: { address: '127.0.0.1', port: 0 } });
    const ctx = () => t.rt.context();
    admin = (await issueToken(ctx(), undefined, await createUser(ctx(), undefined, { name: 'root', isSuperUser: true }), {})).secret;
    for (const [id, clusterType] of [[MESOS, 'mesos'], [OTHER_MESOS, 'mesos'], [K8S, 'k8s']] as [string, ClusterType][]) {
      await createCluster(ctx(), undefined, { id, clusterType, projectId: 'p' });
      tokens[id] = (await createRegisterToken(ctx(), undefined, id)).secret;
    }
    proxy = await createProxy(t.rt, new Registry(), { discovery, admission, webhookRoutes: async () => undefined });
    listening = await startListeners(t.rt.config, proxy.mounts, t.rt.logger);
    gatewayUrl = listening.urls[0]!;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((a) => a.close()));
    await waitFor('driver tunnels gone', () => proxy.driverTunnels.all().length === 0, 10_000);
    discovery.servers.clear();
    discovery.current = 'connected';
    admitted.length = 0;
  });
  after(async () => {
    await listening?.close();
    await proxy?.stop();
    fakes.forEach((f) => f.server.close());
    await t?.stop();
  });

  const newFake = async (name: string): Promise<FakeDriver> => {
    const f = await fakeDriver(name);
    fakes.push(f);
    return f;
  };

  it('forwards a GET and an admitted POST through the tunnel to the driver path, without ZooKeeper', async () => {
    discovery.current = 'disabled';
    const fake = await newFake('tunnelled');
    const agent = await connectDriver({ cluster: MESOS, fake, reported: '10.255.0.1:31000' });

    const get = await call('/bcsapi/v4/scheduler/mesos/cluster/resources?detail=1', MESOS);
    assert.equal(get.status, 200, await get.clone().text());
    assert.equal(get.headers.get('x-driver'), 'tunnelled');
    assert.deepEqual(fake.seen[0], { method: 'GET', url: '/mesosdriver/v4/cluster/resources?detail=1', body: '' });

    const post = await call('/bcsapi/v4/scheduler/mesos/namespaces/ns1/applications', MESOS, {
      method: 'POST',
      body: JSON.stringify({ kind: 'application', metadata: { name: 'web' } }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(post.status, 200, await post.clone().text());
    assert.deepEqual(admitted, ['Create']);
    assert.equal(fake.seen[1]!.url, '/mesosdriver/v4/namespaces/ns1/applications');
    assert.deepEqual(JSON.parse(fake.seen[1]!.body), { kind: 'application', metadata: { name: 'web', labels: { admitted: 'yes' } } });
    // The gateway asked the driver's end to dial only the address that driver reported.
    assert.ok(agent.connects.length >= 1);
    assert.deepEqual([...new Set(agent.connects)], ['tcp/10.255.0.1:31000']);

    // A k8s driver, in the later spelling of its module, on the k8s surface.
    const k8sFake = await newFake('k8s');
    await connectDriver({ cluster: K8S, fake: k8sFake, reported: '10.255.0.3:32000', module: 'k8sdriver' });
    const nodes = await call('/bcsapi/v4/scheduler/k8s/nodes', K8S, { method: 'PATCH', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(nodes.status, 200, await nodes.clone().text());
    assert.deepEqual(k8sFake.seen.map((s) => `${s.method} ${s.url}`), ['PATCH /k8sdriver/v4/nodes']);
    // The mesos driver's tunnel serves only its own cluster.
    const other = await call('/bcsapi/v4/scheduler/mesos/cluster/resources', OTHER_MESOS);
    assert.equal(other.status, 503);
    assert.equal(((await other.json()) as { code: number }).code, 1405051);
  });

  it('spreads requests over the replicas of a cluster, one session each, and prefers them to ZooKeeper', async () => {
    const [a, b, zk] = await Promise.all([newFake('replica-a'), newFake('replica-b'), newFake('zookeeper')]);
    await connectDriver({ cluster: MESOS, fake: a, reported: '10.255.1.1:31000', module: 'mesosdriver' });
    await connectDriver({ cluster: MESOS, fake: b, reported: '10.255.1.2:31000' });
    discovery.servers.set(`mesosdriver/${MESOS}`, [{ ip: '127.0.0.1', port: zk.port, scheme: 'http' }]);
    assert.equal(liveDrivers(MESOS), 2);
    for (let i = 0; i < 30; i += 1) assert.equal((await call('/bcsapi/v4/scheduler/mesos/cluster/resources', MESOS)).status, 200);
    assert.ok(a.seen.length > 0 && b.seen.length > 0, `both replicas get traffic (${a.seen.length} / ${b.seen.length})`);
    assert.equal(a.seen.length + b.seen.length, 30);
    assert.equal(zk.seen.length, 0, 'live tunnels come before ZooKeeper');
  });

  it('falls back to ZooKeeper when the driver tunnel closes, and answers the original not-found envelope without either', async () => {
    const [tunnelled, zk] = await Promise.all([newFake('tunnelled'), newFake('zookeeper')]);
    const agent = await connectDriver({ cluster: MESOS, fake: tunnelled, reported: '10.255.2.1:31000' });
    assert.equal((await call('/bcsapi/v4/scheduler/mesos/cluster/resources', MESOS)).headers.get('x-driver'), 'tunnelled');
    agent.kill();
    await waitFor('the closed tunnel leaves the routes', () => liveDrivers(MESOS) === 0, 10_000);

    const none = await call('/bcsapi/v4/scheduler/mesos/cluster/resources', MESOS);
    assert.equal(none.status, 503);
    assert.deepEqual(await none.json(), { result: false, code: 1405051, message: `(bcs-api):mesos cluster ${MESOS} not found`, data: null });

    discovery.servers.set(`mesosdriver/${MESOS}`, [{ ip: '127.0.0.1', port: zk.port, scheme: 'http' }]);
    const fallback = await call('/bcsapi/v4/scheduler/mesos/cluster/resources', MESOS);
    assert.equal(fallback.status, 200);
    assert.equal(fallback.headers.get('x-driver'), 'zookeeper');
    assert.equal(tunnelled.seen.length, 1);
  });

  it("refuses a wrong register token, another cluster's token and a driver of the wrong cluster type", async () => {
    const fake = await newFake('refused');
    const wrong = await refusal({ cluster: MESOS, fake, reported: '10.255.3.1:31000', token: 'not-the-token' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body, /failed authentication/);
    // A register token authorises its own cluster only.
    assert.equal((await refusal({ cluster: MESOS, fake, reported: '10.255.3.1:31000', token: tokens[OTHER_MESOS] })).status, 401);
    const k8sAsMesos = await refusal({ cluster: K8S, fake, reported: '10.255.3.1:31000' });
    assert.equal(k8sAsMesos.status, 403);
    assert.match(k8sAsMesos.body, /mesos-driver tunnels serve mesos clusters only/);
    assert.equal((await refusal({ cluster: MESOS, fake, reported: '10.255.3.1:31000/mesosdriver' })).status, 400);
    assert.equal(proxy.driverTunnels.all().length, 0);
    assert.equal(fake.seen.length, 0);
  });

  it('verifies an https driver through its tunnel as one found in ZooKeeper: an untrusted certificate is a 502, nothing is sent', async () => {
    const certs = generateCerts();
    const seen: string[] = [];
    const server = https.createServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => {
      seen.push(req.url!);
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const agent = await TunnelAgent.connect({ gatewayUrl, clusterId: MESOS, registerToken: tokens[MESOS]!, module: 'mesos-driver', address: 'https://127.0.0.1:31443', dialTo: () => ({ host: '127.0.0.1', port }) });
      open.push(agent);
      const res = await call('/bcsapi/v4/scheduler/mesos/cluster/resources', MESOS);
      assert.equal(res.status, 502);
      assert.equal(((await res.json()) as { code: number }).code, 1405053);
      assert.deepEqual(agent.connects, ['tcp/127.0.0.1:31443'], 'the request went through the tunnel');
      assert.deepEqual(seen, [], 'no request over an unverified connection');
    } finally {
      server.close();
    }
  });

  it("closes a driver tunnel when its cluster's register token is rotated", async () => {
    const fake = await newFake('rotated');
    const agent = await connectDriver({ cluster: OTHER_MESOS, fake, reported: '10.255.4.1:31000' });
    assert.equal(liveDrivers(OTHER_MESOS), 1);
    const ctx = t.rt.context();
    tokens[OTHER_MESOS] = (await rotateRegisterToken(ctx, await authenticate(ctx.em, admin, ctx.now()), OTHER_MESOS)).secret;
    const closed = await waitFor('tunnel closed', () => agent.closeInfo, 10_000);
    assert.equal(closed.code, 1008);
    assert.equal(liveDrivers(OTHER_MESOS), 0);
  });
});
