import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startReplicas, type Replica, type Replicas } from '../helpers/relay-replicas';
import { TunnelAgent } from '../helpers/tunnel-agent';
import { waitFor } from '../helpers/wait';

/**
 * ZooKeeper restarted under relaying replicas (sessions of 2 s): the agent's tunnel is held by A and
 * requests go through B. While ZooKeeper is down B keeps relaying to the holder it last saw; once
 * ZooKeeper is back, a tunnel that moved during or after the outage is found where it now is.
 */
describe('replicas relay across a ZooKeeper restart', () => {
  let r: Replicas;
  let b: Replica;
  let agent: TunnelAgent | undefined;

  const connectAgent = (gatewayUrl: string): Promise<TunnelAgent> =>
    TunnelAgent.connect({ gatewayUrl, gatewayCa: r.env.gatewayCaPem, clusterId: r.env.clusterId, registerToken: r.env.registerToken, address: r.env.fake.url, userToken: r.env.fake.token, caPem: r.env.fake.caPem });
  /** Lists pods through `replica`, naming the cluster by its identifier (or by `key`: each key is resolved and cached apart). */
  const list = async (replica: { httpUrl: string }, key = r.env.identifier): Promise<number> =>
    (await fetch(`${replica.httpUrl}/tunnels/clusters/${key}/api/v1/namespaces/ns1/pods`, { headers: { authorization: `Bearer ${r.env.gw.adminToken}` }, signal: AbortSignal.timeout(10_000) })).status;
  /** Every answer of `n` requests in a row through `replica`. */
  const burst = async (replica: Replica, n = 5): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await list(replica));
    return out;
  };
  const servedBy = async (replica: { metrics(): Promise<string> }): Promise<number> =>
    Number(/^bcs_api_peer_relays_served_total\{status="101"\} (\S+)$/m.exec(await replica.metrics())?.[1] ?? 0);
  /** The ZooKeeper state `/readyz` reports. */
  const zkState = async (replica: Replica): Promise<string | undefined> =>
    ((await (await fetch(`${replica.httpUrl}/readyz`)).json()) as { checks: { zookeeper?: { state: string } } }).checks.zookeeper?.state;

  before(async () => {
    r = await startReplicas();
    r.env.fake.addPod('ns1', 'web-1');
    b = await r.start();
    agent = await connectAgent(r.env.httpsUrl);
    await waitFor('B to route through A', async () => (await list(b)) === 200, 15_000);
  });
  after(async () => {
    await agent?.close();
    await r?.stop();
  });

  it('keeps relaying to the last known holder while ZooKeeper is down for less than a session timeout', async () => {
    await r.zk.stop();
    // Only A holds a tunnel, so a 200 through B is a relay through A.
    assert.deepEqual(await burst(b), [200, 200, 200, 200, 200], 'relayed from the last known holder');
    await r.zk.start();
    await waitFor('B connected again', async () => (await zkState(b)) === 'connected', 15_000);
    assert.deepEqual(await burst(b, 3), [200, 200, 200]);
  });

  it('keeps relaying through an outage longer than the session timeout, and finds the tunnel on C after the restart', async () => {
    const c = await r.start();
    try {
      await r.zk.stop();
      // Past the session timeout (2 s): B's discovery goes stale, but the holder it last saw still answers.
      await waitFor('B to call its discovery stale', async () => (await zkState(b)) === 'stale', 10_000, 100);
      assert.deepEqual(await burst(b, 3), [200, 200, 200], 'relayed from the last known holder while stale');
      // A key B never resolved: the route is looked up now, from the holders B last saw.
      assert.equal(await list(b, r.env.clusterId), 200, 'a route resolved while stale uses the last known holders');
      await r.zk.start();
      await waitFor('B and C connected again', async () => (await zkState(b)) === 'connected' && (await zkState(c)) === 'connected', 20_000);
      assert.deepEqual(await burst(b, 3), [200, 200, 200], 'still through A after the restart');

      // The agent moves to C: B follows the new holder.
      await agent!.close();
      agent = await connectAgent(c.httpsUrl);
      const cBefore = await servedBy(c);
      await waitFor('B to route through C', async () => (await list(b)) === 200 && (await servedBy(c)) > cBefore, 15_000);
      assert.deepEqual(await burst(b, 3), [200, 200, 200]);
      assert.ok((await servedBy(c)) > cBefore, 'C served the relays');
    } finally {
      await agent?.close();
      agent = undefined;
      await c.stop();
    }
  });

  it('finds a tunnel that moved while ZooKeeper was down once it is back (the old holder refuses meanwhile)', async () => {
    const d = await r.start();
    const e = await r.start();
    agent = await connectAgent(d.httpsUrl);
    try {
      await waitFor('B to route through D', async () => (await list(b)) === 200, 15_000);
      await r.zk.stop();
      // The agent moves from D to E during the outage: nobody can be told.
      await agent.close();
      agent = await connectAgent(e.httpsUrl);
      const during = await list(b);
      assert.ok(during === 200 || during === 503, `B answers at once: relayed by whoever it reaches, or 503 (${during})`);
      const eBefore = await servedBy(e);
      await r.zk.start();
      // E's session republishes its holder node and D's withdrawal goes through: B follows.
      await waitFor('B to route through E', async () => (await list(b)) === 200 && (await servedBy(e)) > eBefore, 20_000);
      assert.deepEqual(await burst(b, 3), [200, 200, 200]);
    } finally {
      await agent?.close();
      agent = undefined;
      await d.stop();
      await e.stop();
    }
  });
});
