/**
 * The module passthroughs' store reads (tokens, grants) on the second dialect: alice's grant on one
 * cluster reads that cluster's storage paths and no other's, through a fake storage in ZooKeeper.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../../src/domain/auth';
import { createCluster } from '../../src/domain/clusters';
import { createGrant } from '../../src/domain/rbac-grants';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { startTestApp, type TestApp } from '../helpers/app';
import { FakeModuleServer, ModuleRegistration } from '../helpers/fake-modules';
import { waitFor, ZooKeeperServer } from '../helpers/zookeeper';
import { envelopeOf, send } from './module-passthrough-fixtures';

describe('/bcsapi/v4 module passthroughs on MariaDB', () => {
  let zk: ZooKeeperServer;
  let gw: TestApp;
  let storage: FakeModuleServer;
  let registration: ModuleRegistration;
  let alice: string;

  before(async () => {
    zk = await ZooKeeperServer.start();
    gw = await startTestApp('mysql', { zookeeper: zk.connectString, zookeeperClient: { sessionTimeoutSeconds: 4 } });
    storage = await FakeModuleServer.start('storage');
    registration = await ModuleRegistration.register(zk.connectString, 'storage', { ip: '127.0.0.1', port: storage.port });
    const ctx = () => gw.app.runtime.context();
    const actor = await authenticate(ctx().em, gw.adminToken, new Date());
    alice = (await issueToken(ctx(), undefined, await createUser(ctx(), undefined, { name: 'alice' }), {})).secret;
    for (const id of ['BCS-K8S-A', 'BCS-K8S-B']) await createCluster(ctx(), undefined, { id, clusterType: 'k8s' });
    await createGrant(ctx(), actor, { subjectKind: 'User', subjectName: 'alice', clusterId: 'BCS-K8S-A', scope: 'cluster', template: 'cluster-readonly' });
  });
  after(async () => {
    registration?.close();
    storage?.close();
    await gw?.stop();
    await zk?.dispose();
  });

  it("alice reads cluster A's storage path and is refused B's with 1405058; her token never reaches storage", async () => {
    const as = (cluster: string) => send(gw.url, 'GET', `/bcsapi/v4/storage/query/k8s/dynamic/clusters/${cluster}/pod?limit=5`, { authorization: `Bearer ${alice}`, 'impersonate-user': 'admin' });
    const ok = await waitFor('storage discovered', async () => {
      const r = await as('BCS-K8S-A');
      return r.status === 200 ? r : undefined;
    });
    assert.equal(JSON.parse(ok.body).data.url, '/bcsstorage/v1/query/k8s/dynamic/clusters/BCS-K8S-A/pod?limit=5');
    assert.equal(storage.seen.at(-1)!.headers.authorization, undefined);
    assert.equal(storage.seen.at(-1)!.headers['impersonate-user'], undefined);
    const refused = await as('BCS-K8S-B');
    assert.equal(refused.status, 403);
    assert.deepEqual(envelopeOf(refused), { result: false, code: 1405058, data: null });
  });
});
