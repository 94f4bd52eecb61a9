/**
 * ZooKeeper discovery against a real ZooKeeper server (Debian's zookeeper 3.8): fake mesos drivers
 * register exactly as the real mesos-driver does, and the cache follows them through watches only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDiscovery, DisabledDiscovery, ZookeeperDiscovery, type DiscoveredServer, type ZookeeperDiscoveryOptions } from '../../src/discovery';
import { createZkClient, type ZkClient } from '../../src/discovery/zk-client';
import { FakeDriver, rawClient, waitFor, ZooKeeperServer, type RawClient } from '../helpers/zookeeper';

const AUTH = { user: 'bcs', password: 'zk-secret' };
const SELF = { ip: '127.0.0.9', port: 8443, scheme: 'https' as const, version: 'v-test', metric_port: 9443 };
const CLUSTER = 'BCS-MESOS-10001';
const NODE_NAME = /^_c_[0-9a-f]{32}-(\d+\.\d+\.\d+\.\d+)(\d{10})$/;

describe('zookeeper discovery', () => {
  let zk: ZooKeeperServer;
  let admin: RawClient;
  const fakes: FakeDriver[] = [];
  const running: ZookeeperDiscovery[] = [];
  const reads = { count: 0 };

  const countingFactory: ZookeeperDiscoveryOptions['clientFactory'] = (opts) => {
    const c = createZkClient(opts);
    for (const op of ['getChildren', 'getData', 'exists'] as const) {
      const orig = c[op].bind(c) as (...a: unknown[]) => Promise<unknown>;
      (c as unknown as Record<string, unknown>)[op] = (...a: unknown[]) => {
        reads.count += 1;
        return orig(...a);
      };
    }
    return c as ZkClient;
  };

  const discovery = (extra: Partial<ZookeeperDiscoveryOptions> = {}): ZookeeperDiscovery => {
    const d = new ZookeeperDiscovery({
      hosts: zk.connectString,
      auth: AUTH,
      sessionTimeoutMs: 4000,
      retry: { initialDelayMs: 50, maxDelayMs: 200 },
      nativeLogLevel: 0,
      register: SELF,
      clientFactory: countingFactory,
      ...extra,
    });
    running.push(d);
    d.start();
    return d;
  };
  const driver = async (ip: string, cluster = CLUSTER, module: 'mesosdriver' | 'kubernetedriver' = 'mesosdriver', port = 31000): Promise<FakeDriver> => {
    const f = await FakeDriver.register(zk.connectString, { cluster, ip, port }, { module, auth: AUTH });
    fakes.push(f);
    return f;
  };

  before(async () => {
    zk = await ZooKeeperServer.start();
    admin = await rawClient(zk.connectString, { auth: AUTH });
  });
  after(async () => {
    for (const d of running) await d.stop();
    for (const f of fakes) f.close();
    admin?.close();
    await zk?.dispose();
  });

  let d: ZookeeperDiscovery;
  const events: { type: string; server: DiscoveredServer }[] = [];

  test('starts before the base path exists, retries it, then lists drivers in sequence order', async () => {
    assert.deepEqual(await admin.children('/bcs'), [], 'empty ZooKeeper to begin with');
    d = discovery();
    for (const type of ['add', 'update', 'delete'] as const) d.on(type, (server) => events.push({ type, server }));
    await waitFor('initial sync', () => d.state() === 'connected');
    assert.deepEqual(d.drivers('mesosdriver', CLUSTER), []);

    // Registered one after another, with ips whose order differs from the sequence order.
    const a = await driver('127.0.0.30');
    const b = await driver('127.0.0.4');
    const c = await driver('127.0.0.200');
    for (const f of [a, b, c]) assert.match(f.node, NODE_NAME, `${f.node} is named as Curator's protected mode names it`);
    const bySequence = [a, b, c].sort((x, y) => x.node.slice(-10).localeCompare(y.node.slice(-10)));
    assert.deepEqual(bySequence.map((f) => f.info.ip), ['127.0.0.30', '127.0.0.4', '127.0.0.200']);

    const got = await waitFor('three drivers', () => (d.drivers('mesosdriver', CLUSTER).length === 3 ? d.drivers('mesosdriver', CLUSTER) : undefined));
    assert.deepEqual(got.map((s) => s.ip), ['127.0.0.30', '127.0.0.4', '127.0.0.200']);
    assert.deepEqual(got[0], { ...a.info }, 'the ServerInfo JSON passes through');
    assert.equal(events.filter((e) => e.type === 'add').length, 3);
    assert.deepEqual(d.clusterIds('mesosdriver'), [CLUSTER]);
    assert.equal(d.health().ready, true);
    assert.equal(d.health().drivers, 3);
  });

  test('answers drivers() from memory: no ZooKeeper read per request', async () => {
    const before = reads.count;
    for (let i = 0; i < 1000; i += 1) assert.equal(d.drivers('mesosdriver', CLUSTER).length, 3);
    assert.equal(reads.count, before);
    const copy = d.drivers('mesosdriver', CLUSTER);
    copy.pop();
    assert.equal(d.drivers('mesosdriver', CLUSTER).length, 3, 'callers get a copy');
  });

  test('a deleted node or a closed driver session leaves the cache; all gone gives []', async () => {
    const [a, b, c] = fakes.slice(0, 3) as [FakeDriver, FakeDriver, FakeDriver];
    await admin.delete(a.path);
    await waitFor('a gone', () => d.drivers('mesosdriver', CLUSTER).length === 2);
    assert.deepEqual(d.drivers('mesosdriver', CLUSTER).map((s) => s.ip), [b.info.ip, c.info.ip]);

    c.close(); // the driver's session ends: ZooKeeper removes its ephemeral node
    await waitFor('c gone', () => d.drivers('mesosdriver', CLUSTER).length === 1);
    assert.deepEqual(d.drivers('mesosdriver', CLUSTER).map((s) => s.ip), [b.info.ip]);

    b.close();
    await waitFor('all gone', () => d.drivers('mesosdriver', CLUSTER).length === 0);
    assert.deepEqual(d.drivers('mesosdriver', CLUSTER), []);
    assert.equal(d.state(), 'connected');
    assert.deepEqual(events.filter((e) => e.type === 'delete').map((e) => e.server.info.ip).sort(), ['127.0.0.200', '127.0.0.30', '127.0.0.4']);
  });

  test('a cluster directory that appears later is discovered (mesos and k8s drivers); a removed one is dropped', async () => {
    const m = await driver('127.0.1.1', 'BCS-MESOS-10002');
    const k = await driver('127.0.2.1', 'BCS-K8S-40001', 'kubernetedriver', 6443);
    await waitFor('new mesos cluster', () => d.drivers('mesosdriver', 'BCS-MESOS-10002').length === 1);
    await waitFor('k8s driver', () => d.drivers('kubernetedriver', 'BCS-K8S-40001').length === 1);
    assert.equal(d.drivers('kubernetedriver', 'BCS-K8S-40001')[0]!.port, 6443);
    assert.deepEqual(d.drivers('mesosdriver', 'BCS-K8S-40001'), [], 'modules are kept apart');
    assert.deepEqual(d.clusterIds('mesosdriver'), [CLUSTER, 'BCS-MESOS-10002']);

    m.close();
    await admin.deleteTree('/bcs/services/endpoints/mesosdriver/BCS-MESOS-10002');
    await waitFor('cluster dropped', () => !d.clusterIds('mesosdriver').includes('BCS-MESOS-10002'));
    assert.deepEqual(d.drivers('mesosdriver', 'BCS-MESOS-10002'), []);
    k.close();
    await waitFor('k8s driver gone', () => d.drivers('kubernetedriver', 'BCS-K8S-40001').length === 0);
  });

  test('a changed ServerInfo is an update; short names and non-ServerInfo data are never routed to', async () => {
    const f = await driver('127.0.3.1');
    await waitFor('driver', () => d.drivers('mesosdriver', CLUSTER).length === 1);
    await admin.set(f.path, JSON.stringify({ ...f.info, port: 32000, external_ip: '10.0.0.1', external_port: 80 }));
    await waitFor('update seen', () => d.drivers('mesosdriver', CLUSTER)[0]?.port === 32000);
    assert.equal(d.drivers('mesosdriver', CLUSTER)[0]!.external_ip, '10.0.0.1');
    assert.equal(events.at(-1)?.type, 'update');

    const dir = `/bcs/services/endpoints/mesosdriver/${CLUSTER}`;
    await admin.create(`${dir}/short`, JSON.stringify({ ip: '127.0.9.1', port: 1 }), 1); // 5 chars: ignored by name
    await admin.create(`${dir}/_c_${'0'.repeat(32)}-127.0.9.2`, 'not json', 3);
    await admin.create(`${dir}/_c_${'1'.repeat(32)}-127.0.9.3`, JSON.stringify({ ip: '127.0.9.3', port: 'eighty' }), 3);
    const late = await driver('127.0.3.2'); // a change after the junk proves the junk was read and skipped
    await waitFor('late driver', () => d.drivers('mesosdriver', CLUSTER).length === 2);
    assert.deepEqual(d.drivers('mesosdriver', CLUSTER).map((s) => s.ip), ['127.0.3.1', '127.0.3.2']);
    f.close();
    late.close();
    await waitFor('drivers gone', () => d.drivers('mesosdriver', CLUSTER).length === 0);
  });

  test('registers itself under apiserver (ServerInfo, digest ACL) and again when its node is deleted', async () => {
    const first = await waitFor('registered', () => d.registrationPath());
    const name = first.slice(first.lastIndexOf('/') + 1);
    assert.ok(first.startsWith('/bcs/services/endpoints/apiserver/'));
    assert.match(name, NODE_NAME);
    assert.equal(NODE_NAME.exec(name)![1], SELF.ip);
    const info = JSON.parse((await admin.get(first))!);
    assert.deepEqual(info, { ...SELF, pid: process.pid });
    const acl = await admin.acl(first);
    assert.deepEqual(acl.map((a) => [a.scheme, a.auth.split(':')[0], a.perms]), [['digest', AUTH.user, 31]]);
    const anonymous = await rawClient(zk.connectString);
    try {
      await assert.rejects(anonymous.get(first), /-102/, 'others cannot read it without the credentials');
    } finally {
      anonymous.close();
    }

    await admin.delete(first);
    const second = await waitFor('registered again', () => (d.registrationPath() !== first ? d.registrationPath() : undefined));
    assert.ok(await admin.get(second));
    assert.equal((await admin.children('/bcs/services/endpoints/apiserver')).length, 1);
    assert.equal(d.health().registration?.path, second);
  });

  test('stop() ends the session: its node goes, drivers() is empty', async () => {
    const path = d.registrationPath()!;
    await d.stop();
    await waitFor('own node removed', async () => (await admin.get(path)) === undefined);
    assert.deepEqual(d.drivers('mesosdriver', CLUSTER), []);
  });

  test('without bcs_zookeeper the disabled implementation answers', async () => {
    const off = createDiscovery({ zookeeper: undefined, zookeeperClient: { sessionTimeoutSeconds: 10 } });
    assert.ok(off instanceof DisabledDiscovery);
    off.start();
    assert.equal(off.state(), 'disabled');
    assert.deepEqual(off.drivers('mesosdriver', CLUSTER), []);
    assert.deepEqual(off.health(), { state: 'disabled', ready: true, message: 'zookeeper discovery is not configured (bcs_zookeeper is empty)' });
    await off.stop();
    const on = createDiscovery({ zookeeper: zk.connectString, zookeeperClient: { sessionTimeoutSeconds: 10 } });
    assert.ok(on instanceof ZookeeperDiscovery);
    assert.equal(on.state(), 'connecting');
  });
});
