/**
 * Two replicas' RBAC reconcilers on one MariaDB database, both able to reach the cluster, both told of
 * each change (the second through the ZooKeeper change signal): the sync lease lets one push it, and
 * the other, syncing after it, finds nothing left to write. Counted at the fake apiserver.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../../src/domain/auth';
import { createGrant } from '../../src/domain/rbac-grants';
import { readSyncStatus } from '../../src/domain/rbac-sync-status';
import { createUser } from '../../src/domain/users';
import { credsOf, registerCluster } from '../helpers/clusters';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { bindingsFor, rbacConfig, waitUntil } from '../helpers/rbac';
import { startReplicas, type Replica, type Replicas } from '../helpers/replicas';
import { ZooKeeperServer } from '../helpers/zookeeper';

const CLUSTER = 'BCS-K8S-40002';
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

describe('replicas: two RBAC reconcilers push each change to a cluster once', () => {
  let zk: ZooKeeperServer;
  let fake: FakeKube;
  let set: Replicas;

  const ctxA = () => set.replicas[0]!.app.runtime.context();
  const rbacWrites = (): string[] => fake.requests.filter((r) => WRITES.has(r.method) && r.url.startsWith('/apis/rbac.authorization.k8s.io/')).map((r) => `${r.method} ${r.url.split('?')[0]}`);
  /** Sync attempts a replica finished (its `bcs_api_rbac_syncs_total`, every result). */
  const syncs = async (r: Replica): Promise<number> => {
    const text = await (await fetch(`${r.url}/metrics`)).text();
    return [...text.matchAll(/^bcs_api_rbac_syncs_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  };
  /** Every replica finished more syncs than `before` (the one that lost the lease syncs after the winner). */
  const allSynced = (before: number[]) =>
    waitUntil('a sync of the cluster on every replica', async () => {
      const now = await Promise.all(set.replicas.map(syncs));
      return now.every((n, i) => n > before[i]!) || undefined;
    });

  before(async () => {
    zk = await ZooKeeperServer.start();
    fake = await startFakeKube();
    set = await startReplicas(2, {
      zookeeper: zk.connectString,
      zookeeperClient: { sessionTimeoutSeconds: 4, changePollSeconds: 30 },
      rbac: rbacConfig({ reconcileIntervalSeconds: 3600 }),
    });
    await createUser(ctxA(), undefined, { name: 'plain:alice' });
    // Its first credentials: both replicas sync it.
    await registerCluster(ctxA, CLUSTER, credsOf(fake));
    await allSynced([0, 0]);
  });
  after(async () => {
    await set?.stop();
    await fake?.stop();
    await zk?.dispose();
  });

  it('writes a new grant once, though both replicas sync the cluster', async () => {
    fake.requests.length = 0;
    const admin = await authenticate(ctxA().em, set.adminToken, new Date());
    const before = await Promise.all(set.replicas.map(syncs));
    await createGrant(ctxA(), admin, { subjectKind: 'User', subjectName: 'plain:alice', clusterId: CLUSTER, scope: 'cluster', template: 'cluster-readonly' });
    await allSynced(before);
    const writes = rbacWrites();
    assert.equal(bindingsFor(fake, 'clusterrolebindings', 'plain.alice', 'bke-cluster-readonly').length, 1);
    assert.deepEqual(
      writes.filter((w) => w.startsWith('POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings')),
      ['POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings'],
      `one create of the binding; all writes: ${writes.join(', ')}`,
    );
    assert.equal(new Set(writes).size, writes.length, `no object written twice: ${writes.join(', ')}`);
    assert.equal((await readSyncStatus(ctxA().em, CLUSTER)).result, 'ok');
  });
});
