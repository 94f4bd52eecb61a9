/**
 * ZooKeeper discovery under faults, against a real ZooKeeper server: server restart on the same data
 * dir, a network partition longer than the session timeout (blackhole proxy: stale, then expiry and a new
 * session), and a session closed under the discovery (client factory seam). Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ZookeeperDiscovery, type ZookeeperDiscoveryOptions } from '../../src/discovery';
import { createZkClient, ZK_CLOSE, type ZkClient } from '../../src/discovery/zk-client';
import { BlackholeProxy, FakeDriver, rawClient, waitFor, ZooKeeperServer, type RawClient } from '../helpers/zookeeper';

const AUTH = { user: 'bcs', password: 'zk-secret' };
const SELF = { ip: '127.0.0.9', port: 8443, scheme: 'https' as const, version: 'v-test', metric_port: 9443 };
const CLUSTER = 'BCS-MESOS-10001';
const SESSION_MS = 2000;

describe('zookeeper discovery faults', () => {
  let zk: ZooKeeperServer;
  const fakes: FakeDriver[] = [];
  const running: ZookeeperDiscovery[] = [];
  const raws: RawClient[] = [];

  before(async () => {
    zk = await ZooKeeperServer.start({ tickTime: 100, minSessionTimeout: 1000, maxSessionTimeout: 20000 });
  });
  after(async () => {
    for (const d of running) await d.stop();
    for (const f of fakes) f.close();
    for (const r of raws) r.close();
    await zk?.dispose();
  });

  const admin = async (): Promise<RawClient> => {
    const c = await rawClient(zk.connectString, { auth: AUTH });
    raws.push(c);
    return c;
  };
  /** Drivers connect straight to the server with long sessions, so only the gateway's link is at fault. */
  const driver = async (ip: string, cluster = CLUSTER): Promise<FakeDriver> => {
    const f = await FakeDriver.register(zk.connectString, { cluster, ip, port: 31000 }, { auth: AUTH, sessionTimeoutMs: 20000 });
    fakes.push(f);
    return f;
  };
  const discovery = (hosts: string, extra: Partial<ZookeeperDiscoveryOptions> = {}) => {
    const clients: ZkClient[] = [];
    const d = new ZookeeperDiscovery({
      hosts,
      auth: AUTH,
      sessionTimeoutMs: SESSION_MS,
      retry: { initialDelayMs: 50, maxDelayMs: 200 },
      nativeLogLevel: 0,
      register: SELF,
      clientFactory: (opts) => {
        const c = createZkClient(opts);
        clients.push(c);
        return c;
      },
      ...extra,
    });
    const seen: string[] = [];
    for (const e of ['connect', 'disconnect', 'stale', 'expired', 'synced'] as const) d.on(e, () => seen.push(e));
    running.push(d);
    d.start();
    return { d, clients, seen };
  };
  const ips = (d: ZookeeperDiscovery): string[] => d.drivers('mesosdriver', CLUSTER).map((s) => s.ip);
  const cleanCluster = async (): Promise<void> => {
    for (const f of fakes.splice(0)) f.close();
    // A driver whose close did not reach the server leaves its node until its session times out.
    await (await admin()).deleteTree(`/bcs/services/endpoints/mesosdriver/${CLUSTER}`);
  };

  beforeEach(async () => {
    if (zk.running) await cleanCluster(); // a failed test must not leave drivers to the next one
  });

  test('ZooKeeper restarted on the same data dir: cache served, then stale, then recovered and registered', async () => {
    const a = await driver('127.0.0.11');
    const { d, seen } = discovery(zk.connectString);
    await waitFor('synced with a', () => d.state() === 'connected' && ips(d).length === 1);
    const own = await waitFor('registered', () => d.registrationPath());

    await zk.stop();
    try {
      await waitFor('disconnect noticed', () => seen.includes('disconnect'), 3000);
      assert.equal(d.state(), 'connecting');
      assert.deepEqual(ips(d), ['127.0.0.11'], 'the cache is still served within the session timeout');
      assert.equal(d.health().ready, false);

      await waitFor('stale after a session timeout without ZooKeeper', () => d.state() === 'stale', SESSION_MS + 3000);
      assert.deepEqual(d.drivers('mesosdriver', CLUSTER), [], 'stale entries are not routed to');
      assert.equal(d.list().length, 1, 'but are kept for when the connection returns');
    } finally {
      await zk.start(); // the later tests need the server either way
    }
    await waitFor('fresh again', () => d.state() === 'connected', 10_000);
    assert.deepEqual(ips(d), [a.info.ip]);
    const b = await driver('127.0.0.12');
    await waitFor('driver added after the restart seen', () => ips(d).length === 2, 5000);
    assert.deepEqual(ips(d), [a.info.ip, b.info.ip]);

    const path = await waitFor('own node registered', () => d.registrationPath());
    const check = await admin();
    assert.deepEqual(JSON.parse((await check.get(path))!), { ...SELF, pid: process.pid });
    assert.equal((await check.children('/bcs/services/endpoints/apiserver')).filter((n) => n.includes(SELF.ip)).length, 1);
    assert.ok(path === own || (await check.get(own)) === undefined, 'no second node for this gateway');
    await d.stop();
    await cleanCluster();
  });

  test('a partition longer than the session timeout: stale and [], then expired, new session, fresh again', async () => {
    const proxy = await BlackholeProxy.start(zk.port);
    try {
      const a = await driver('127.0.0.21');
      const b = await driver('127.0.0.22');
      const { d, clients, seen } = discovery(proxy.connectString);
      await waitFor('synced', () => d.state() === 'connected' && ips(d).length === 2);
      const own = await waitFor('registered', () => d.registrationPath());
      const check = await admin();

      proxy.blackhole();
      await waitFor('disconnect noticed', () => seen.includes('disconnect'), SESSION_MS * 2);
      assert.deepEqual(ips(d), [a.info.ip, b.info.ip], 'served from the cache while the session may still live');
      await waitFor('stale', () => d.state() === 'stale', SESSION_MS + 2000);
      assert.deepEqual(d.drivers('mesosdriver', CLUSTER), []);
      assert.equal(d.health().state, 'stale');
      assert.equal(d.health().ready, false);
      // The server has expired the gateway's session by now: its ephemeral node is gone.
      await waitFor('own node expired on the server', async () => (await check.get(own)) === undefined, 3000);

      // Changes during the partition: one driver leaves, one arrives.
      b.close();
      const c = await driver('127.0.0.23');

      proxy.heal();
      await waitFor('fresh again', () => d.state() === 'connected', 10_000);
      assert.ok(seen.includes('expired'), 'the old session was reported expired');
      assert.equal(clients.length, 2, 'a new client replaced the dead one');
      assert.deepEqual(ips(d), [a.info.ip, c.info.ip], 'the cache was rebuilt: b gone, c present');

      const again = await waitFor('registered again', () => d.registrationPath());
      assert.notEqual(again, own);
      assert.ok(await check.get(again), 'own node re-created in the new session');

      // Watches were re-armed on the new session: a driver added now is seen.
      const e = await driver('127.0.0.24');
      await waitFor('driver added after recovery', () => ips(d).includes(e.info.ip), 5000);
      c.close();
      await waitFor('driver removed after recovery', () => !ips(d).includes(c.info.ip), 5000);
      await d.stop();
    } finally {
      await proxy.close();
    }
    await cleanCluster();
  });

  test('a link broken under a call: noticed, the handle replaced at once, the session resumed with its node', async () => {
    const proxy = await BlackholeProxy.start(zk.port);
    try {
      await driver('127.0.0.41');
      const { d, clients, seen } = discovery(proxy.connectString);
      await waitFor('synced', () => d.state() === 'connected' && ips(d).length === 1);
      const own = await waitFor('registered', () => d.registrationPath());
      const session = clients[0]!.sessionId;
      // The C client's send of a new request fails on the reset socket: it marks itself not connected
      // but raises no session event and leaves the binding polling the closed descriptor (nonblocking_send).
      proxy.resetClients();
      clients[0]!.exists('/bcs').catch(() => undefined);
      await waitFor('disconnect noticed', () => seen.includes('disconnect'), 3000);
      // New connections through the proxy are sockets of this process: they may take the descriptor
      // number the old handle polled, which is safe only because that handle is closed already.
      await waitFor('fresh again', () => d.state() === 'connected', 10_000);
      assert.equal(clients.length, 2, 'a new client');
      assert.equal(clients[1]!.sessionId, session, 'on the same session');
      assert.ok(!seen.includes('expired'));
      assert.equal(d.registrationPath(), own, 'its own node adopted, not registered again');
      assert.deepEqual(ips(d), ['127.0.0.41']);
      const b = await driver('127.0.0.42');
      await waitFor('watch re-armed on the new client', () => ips(d).includes(b.info.ip), 3000);
      await d.stop();
    } finally {
      await proxy.close();
    }
    await cleanCluster();
  });

  test('a session ended under the discovery (client factory seam): new client, watches and own node re-created', async () => {
    const a = await driver('127.0.0.31');
    const { d, clients, seen } = discovery(zk.connectString);
    await waitFor('synced', () => d.state() === 'connected' && ips(d).length === 1);
    const own = await waitFor('registered', () => d.registrationPath());
    const codes: number[] = [];
    d.on('expired', (code) => codes.push(code));

    clients[0]!.close(); // the handle dies under the discovery, as on expiry
    await waitFor('new client', () => clients.length === 2, 3000);
    await waitFor('fresh on the new session', () => d.state() === 'connected' && d.registrationPath() !== undefined && d.registrationPath() !== own, 5000);
    assert.deepEqual(codes, [ZK_CLOSE.BY_CLIENT]);
    assert.ok(seen.includes('expired'));
    assert.deepEqual(ips(d), [a.info.ip]);
    const check = await admin();
    await waitFor('old node gone', async () => (await check.get(own)) === undefined, 3000);
    assert.ok(await check.get(d.registrationPath()!));

    const b = await driver('127.0.0.32');
    await waitFor('watch re-armed', () => ips(d).includes(b.info.ip), 3000);
    await d.stop();
    await cleanCluster();
  });
});
