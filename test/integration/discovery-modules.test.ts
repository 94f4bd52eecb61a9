/**
 * Flat modules (storage, netservice, …) in ZooKeeper discovery, against a real server: registered as the
 * original's modules register, followed by the same watches as the drivers, kept apart from them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ZookeeperDiscovery, type ZookeeperDiscoveryOptions } from '../../src/discovery';
import { createZkClient, type ZkClient } from '../../src/discovery/zk-client';
import { ModuleRegistration } from '../helpers/fake-modules';
import { FakeDriver, rawClient, waitFor, ZooKeeperServer, type RawClient } from '../helpers/zookeeper';

const AUTH = { user: 'bcs', password: 'zk-secret' };

describe('zookeeper discovery of flat modules', () => {
  let zk: ZooKeeperServer;
  let admin: RawClient;
  let d: ZookeeperDiscovery;
  const reads: string[] = [];
  const closers: { close(): void }[] = [];

  const countingFactory: ZookeeperDiscoveryOptions['clientFactory'] = (opts) => {
    const c = createZkClient(opts);
    for (const op of ['getChildren', 'getData', 'exists'] as const) {
      const orig = c[op].bind(c) as (...a: unknown[]) => Promise<unknown>;
      (c as unknown as Record<string, unknown>)[op] = (...a: unknown[]) => {
        reads.push(String(a[0]));
        return orig(...a);
      };
    }
    return c as ZkClient;
  };
  const register = async (module: string, ip: string, extra: Record<string, unknown> = {}): Promise<ModuleRegistration> => {
    const r = await ModuleRegistration.register(zk.connectString, module, { ip, port: 31024, ...extra }, { auth: AUTH });
    closers.push(r);
    return r;
  };

  before(async () => {
    zk = await ZooKeeperServer.start();
    admin = await rawClient(zk.connectString, { auth: AUTH });
    d = new ZookeeperDiscovery({ hosts: zk.connectString, auth: AUTH, sessionTimeoutMs: 4000, retry: { initialDelayMs: 50, maxDelayMs: 200 }, nativeLogLevel: 0, clientFactory: countingFactory });
    d.start();
    await waitFor('synced', () => d.state() === 'connected');
  });
  after(async () => {
    await d?.stop();
    for (const c of closers) c.close();
    admin?.close();
    await zk?.dispose();
  });

  test('a module registering after start is found through a watch on its missing directory, not by polling', async () => {
    assert.deepEqual(d.servers('storage'), []);
    const before = reads.length;
    // Several retry periods (50-200 ms): the missing driver directories are read again meanwhile.
    await waitFor('the driver directories retried', () => reads.slice(before).filter((p) => p.endsWith('/mesosdriver')).length >= 3);
    const moduleReads = reads.slice(before).filter((p) => /\/(storage|metricservice|netservice|clusterkeeper|networkdetection)$/.test(p));
    const a = await register('storage', '127.0.5.1', { external_ip: '10.1.1.1', external_port: 80, scheme: 'https' });
    const b = await register('storage', '127.0.5.2');
    const got = await waitFor('two storage servers', () => (d.servers('storage').length === 2 ? d.servers('storage') : undefined));
    assert.deepEqual(got.map((s) => s.ip), ['127.0.5.1', '127.0.5.2'], 'in node sequence order');
    assert.equal(got[0]!.external_ip, '10.1.1.1');
    assert.deepEqual(d.servers('netservice'), [], 'modules are kept apart');
    assert.deepEqual(d.health().services, { storage: 2 });
    assert.equal(d.health().drivers, 0);
    assert.deepEqual(moduleReads, [], 'a missing module directory is watched (exists), not polled');
    a.close();
    await waitFor('a gone', () => d.servers('storage').length === 1);
    b.close();
    await waitFor('all gone', () => d.servers('storage').length === 0);
  });

  test('a module directory deleted and created again is followed; drivers and modules share one cache', async () => {
    await admin.deleteTree('/bcs/services/endpoints/storage');
    const s = await register('storage', '127.0.5.3');
    const m = await register('metricservice', '127.0.6.1');
    const driver = await FakeDriver.register(zk.connectString, { cluster: 'BCS-K8S-1', ip: '127.0.7.1', port: 6443 }, { module: 'kubernetedriver', auth: AUTH });
    closers.push(driver);
    await waitFor('all three', () => d.servers('storage').length === 1 && d.servers('metricservice').length === 1 && d.drivers('kubernetedriver', 'BCS-K8S-1').length === 1);
    assert.deepEqual(d.servers('storage').map((x) => x.ip), ['127.0.5.3']);
    assert.equal(d.list().length, 3);
    assert.deepEqual(d.health().services, { storage: 1, metricservice: 1 });
    assert.equal(d.health().drivers, 1);
    assert.deepEqual(d.list().find((x) => x.module === 'storage')?.clusterId, undefined);
    s.close();
    m.close();
    driver.close();
    await waitFor('all gone', () => d.list().length === 0);
  });
});
