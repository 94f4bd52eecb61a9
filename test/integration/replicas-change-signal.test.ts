/**
 * Three replicas on one MariaDB database and one real ZooKeeper: a change committed on one is honoured
 * by the others within a second through the ZooKeeper change signal (the safety-net poll is set to 30 s,
 * so only the signal can meet the bound), through 500 ms polling while ZooKeeper is down, and through the
 * signal again once it is back.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../../src/domain/auth';
import { issueToken, revokeToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import type { DomainContext } from '../../src/domain/context';
import { credsOf, registerCluster } from '../helpers/clusters';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { startReplicas, type Replica, type Replicas } from '../helpers/replicas';
import { waitFor } from '../helpers/wait';
import { ZooKeeperServer } from '../helpers/zookeeper';

const SAFETY_NET_SECONDS = 30;

/** Opens a raw watch; resolves once the first event arrived, with a promise of when it ended. */
function openWatch(url: string, token: string): Promise<{ ended: Promise<number>; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`watch answered ${res.statusCode}`));
      const ended = new Promise<number>((r) => res.once('close', () => r(Date.now())));
      res.once('data', () => resolve({ ended, req }));
      res.resume();
    });
    req.on('error', () => undefined);
  });
}

describe('replicas: changes committed on one are honoured by the others within a second', () => {
  let zk: ZooKeeperServer;
  let fake: FakeKube;
  let set: Replicas;
  let a: Replica, b: Replica, c: Replica;
  let identifier: string;
  let alice: Parameters<typeof issueToken>[2];

  const ctxA = (): DomainContext => a.app.runtime.context();
  const podsUrl = (r: Replica, query = ''): string => `${r.url}/tunnels/clusters/${identifier}/api/v1/namespaces/ns1/pods${query}`;
  const status = async (r: Replica, token: string): Promise<number> => (await fetch(podsUrl(r), { headers: { authorization: `Bearer ${token}` } })).status;
  const newToken = async (): Promise<{ id: number; secret: string }> => {
    const issued = await issueToken(ctxA(), undefined, alice, {});
    return { id: issued.token.id, secret: issued.secret };
  };
  const revokeOnA = async (id: number): Promise<number> => {
    const admin = await authenticate(ctxA().em, set.adminToken, new Date());
    await revokeToken(ctxA(), admin, id);
    return Date.now();
  };
  /** How long after `since` each replica first refuses `token` (401). */
  const refusedAfter = (since: number, token: string, replicas: Replica[]): Promise<number[]> =>
    Promise.all(replicas.map(async (r) => (await waitFor(`${r.name} refuses the revoked token`, async () => ((await status(r, token)) === 401 ? Date.now() : undefined), 5000, 10)) - since));
  const signalUp = (replicas: Replica[], up: boolean): Promise<unknown> =>
    waitFor(`change signal ${up ? 'up' : 'down'} on ${replicas.map((r) => r.name).join(',')}`, async () => {
      for (const r of replicas) if (((await set.readyz(r)).changeSignal === 'ok') !== up) return undefined;
      return true;
    }, 20_000, 50);

  before(async () => {
    zk = await ZooKeeperServer.start();
    fake = await startFakeKube();
    set = await startReplicas(3, { zookeeper: zk.connectString, zookeeperClient: { sessionTimeoutSeconds: 4, changePollSeconds: SAFETY_NET_SECONDS } });
    [a, b, c] = set.replicas as [Replica, Replica, Replica];
    const cluster = await registerCluster(ctxA, 'BCS-K8S-40001', credsOf(fake));
    identifier = cluster.cluster.identifier;
    alice = await createUser(ctxA(), undefined, { name: 'plain:alice', groups: ['dev'] });
    fake.addPod('ns1', 'web-1');
    fake.grant({ user: 'plain.alice' }, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }], 'ns1');
    await signalUp([a, b, c], true);
  });
  after(async () => {
    await set?.stop();
    await fake?.stop();
    await zk?.dispose();
  });

  it('refuses a token revoked on A on B and C within a second', async () => {
    const token = await newToken();
    // B and C have it in their principal caches: only a change they hear of can make them refuse it.
    for (const r of [b, c]) assert.equal(await status(r, token.secret), 200);
    const took = await refusedAfter(await revokeOnA(token.id), token.secret, [b, c]);
    console.log(`revocation on A refused by B, C after ${took.join(', ')} ms (ZooKeeper signal)`);
    assert.ok(Math.max(...took) < 1000, `B and C refused it after ${took.join(' and ')} ms`);
  });

  it('closes a watch open through B within a second of the revocation on A', async () => {
    const token = await newToken();
    const watch = await openWatch(podsUrl(b, '?watch=1'), token.secret);
    const revoked = await revokeOnA(token.id);
    const endedAt = await Promise.race([watch.ended, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.notEqual(endedAt, -1, 'the watch of the revoked token is still open');
    assert.ok(endedAt - revoked < 1000, `closed after ${endedAt - revoked} ms`);
    await fake.waitFor(() => fake.streams.watch === 0);
  });

  it('reads the feed only at the safety net while idle with the signal up, every 500 ms without it', async () => {
    const idleMs = 3000;
    const rate = async (): Promise<number> => {
      const before = b.feedReads();
      await new Promise((r) => setTimeout(r, idleMs));
      return ((b.feedReads() - before) * 1000) / idleMs;
    };
    const withSignal = await rate();
    await zk.stop();
    await signalUp([b], false);
    const withoutSignal = await rate();
    await zk.start();
    await signalUp([a, b, c], true);
    console.log(`idle replica feed reads/s: ${withSignal.toFixed(2)} with the ZooKeeper signal (safety net ${SAFETY_NET_SECONDS} s), ${withoutSignal.toFixed(2)} while ZooKeeper is down`);
    assert.ok(withSignal <= 0.34, `${withSignal} reads/s with the signal`);
    assert.ok(withoutSignal >= 1, `${withoutSignal} reads/s without it (one follower at 500 ms)`);
  });

  it('falls back to 500 ms polling while ZooKeeper is down, stays ready, and goes back to the signal', async () => {
    const token = await newToken();
    assert.equal(await status(b, token.secret), 200);
    await zk.stop();
    await signalUp([a, b, c], false);
    const ready = await set.readyz(b);
    assert.deepEqual([ready.status, ready.database], [200, 'ok'], 'ZooKeeper down, the store up: ready');
    const down = await refusedAfter(await revokeOnA(token.id), token.secret, [b]);
    console.log(`revocation on A refused by B after ${down[0]} ms (ZooKeeper down, 500 ms polling)`);
    assert.ok(down[0]! < 1500, `B refused it after ${down[0]} ms through polling`);

    await zk.start();
    await signalUp([a, b, c], true);
    const again = await newToken();
    for (const r of [b, c]) assert.equal(await status(r, again.secret), 200);
    const took = await refusedAfter(await revokeOnA(again.id), again.secret, [b, c]);
    assert.ok(Math.max(...took) < 1000, `after ZooKeeper came back B and C refused it after ${took.join(' and ')} ms`);
  });
});
