import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findUserByName } from '../../src/domain/users';
import { startReplicas, type Replica, type Replicas } from '../helpers/relay-replicas';
import { TcpCut } from '../helpers/tcp-cut';
import { TunnelAgent } from '../helpers/tunnel-agent';
import { waitFor } from '../helpers/wait';

interface Answer {
  kind: 'tunnel' | 'read' | 'write';
  status: number;
  retryAfter: string | null;
  text: string;
  /** The user a write asked for. */
  name?: string;
  duringCut: boolean;
}

/**
 * MariaDB lost for a few seconds (the database restarting: connections refused) by two replicas, B and C,
 * whose link to it runs through one TCP proxy, under a steady stream of requests through B while the
 * agent's tunnel is held by C: /tunnels requests relayed through C, GraphQL reads and GraphQL writes. Every answer is 2xx or 503 with Retry-After (none
 * hangs), every acknowledged write is in the database afterwards, the relayed tunnel keeps serving from
 * B's caches (token, cluster, route) through the cut, and B answers everything again once the link is
 * back, without a restart.
 */
describe('replicas relay through a database outage under load', () => {
  let r: Replicas;
  let b: Replica;
  let c: Replica;
  let cut: TcpCut;
  let agent: TunnelAgent;
  const answers: Answer[] = [];
  let cutting = false;

  const timed = { signal: () => AbortSignal.timeout(15_000) };
  const tunnel = async (): Promise<Answer> => {
    const res = await fetch(`${b.httpUrl}/tunnels/clusters/${r.env.identifier}/api/v1/namespaces/ns1/pods`, { headers: { authorization: `Bearer ${r.env.gw.adminToken}` }, signal: timed.signal() });
    return { kind: 'tunnel', status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text(), duringCut: cutting };
  };
  const graphql = async (kind: 'read' | 'write', query: string, name?: string): Promise<Answer> => {
    const res = await fetch(`${b.httpUrl}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${r.env.gw.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ query }), signal: timed.signal() });
    return { kind, status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text(), name, duringCut: cutting };
  };
  const read = (): Promise<Answer> => graphql('read', '{ viewer { name } }');
  const write = (name: string): Promise<Answer> => graphql('write', `mutation { createUser(input: { name: "${name}" }) { name } }`, name);

  before(async () => {
    r = await startReplicas();
    r.env.fake.addPod('ns1', 'web-1');
    const base = r.env.gw.app.runtime.config.database;
    if (base.dialect !== 'mysql') throw new Error('the replicas run on MariaDB');
    cut = await TcpCut.start(base.target.port, base.target.host);
    const throughCut = { database: { ...base, target: { ...base.target, host: '127.0.0.1', port: cut.port } } };
    b = await r.start({ config: throughCut });
    c = await r.start({ config: throughCut });
    agent = await TunnelAgent.connect({ gatewayUrl: c.httpsUrl, gatewayCa: r.env.gatewayCaPem, clusterId: r.env.clusterId, registerToken: r.env.registerToken, address: r.env.fake.url, userToken: r.env.fake.token, caPem: r.env.fake.caPem });
    await waitFor('B to route through C', async () => (await tunnel()).status === 200, 15_000);
  });
  after(async () => {
    await cut?.restore();
    await agent?.close();
    await r?.stop();
    await cut?.close();
  });

  it('answers 2xx or 503 with Retry-After through the cut, keeps relaying from its caches, and loses no acknowledged write', { timeout: 120_000 }, async () => {
    let running = true;
    let n = 0;
    // Three clients, each sending one request after another: a relayed list, a GraphQL read, a write.
    const client = async (send: () => Promise<Answer>): Promise<void> => {
      while (running) answers.push(await send());
    };
    const stream = Promise.all([client(tunnel), client(read), client(() => write(`stream-${(n += 1)}`))]);
    try {
      await waitFor('a few answers before the cut', () => answers.filter((a) => a.kind === 'write').length >= 3, 15_000);
      cutting = true;
      await cut.cut('refuse');
      await waitFor('B to answer 503 while the link is down', () => answers.some((a) => a.duringCut && a.kind === 'read' && a.status === 503), 15_000, 50);
      await new Promise((res) => setTimeout(res, 3_000));
      await cut.restore();
      cutting = false;
      const since = answers.length;
      await waitFor('B to answer every kind again', () => (['tunnel', 'read', 'write'] as const).every((k) => answers.slice(since).some((a) => a.kind === k && a.status === 200)), 30_000, 100);
    } finally {
      running = false;
      await stream;
    }

    for (const a of answers) {
      if (a.status === 503) assert.ok(a.retryAfter, `a 503 says when to retry (${a.kind}: ${a.text})`);
      else assert.equal(a.status, 200, `${a.kind}: ${a.status} ${a.text}`);
    }
    // The relayed tunnel needs no store while B's token, cluster and route are cached.
    const tunnels = answers.filter((a) => a.kind === 'tunnel');
    assert.ok(tunnels.some((a) => a.duringCut), 'tunnel requests were sent during the cut');
    for (const a of tunnels) {
      assert.equal(a.status, 200, `relayed during the cut too: ${a.text}`);
      assert.ok((JSON.parse(a.text) as { items: { metadata: { name: string } }[] }).items.some((p) => p.metadata.name === 'web-1'), 'the pod list, whole');
    }
    for (const a of answers.filter((x) => x.kind === 'read' && x.status === 200)) assert.deepEqual(JSON.parse(a.text), { data: { viewer: { name: 'admin' } } });
    const failed = answers.filter((a) => a.status === 503);
    assert.ok(failed.length > 0 && failed.every((a) => a.kind !== 'tunnel'), 'the outage was seen by the store-backed requests only');

    // Every write B acknowledged is in the database (read by A, which never lost its link).
    const acked = answers.filter((a) => a.kind === 'write' && a.status === 200);
    assert.ok(acked.length >= 4, `writes acknowledged before and after the cut (${acked.length})`);
    for (const a of acked) {
      assert.deepEqual(JSON.parse(a.text), { data: { createUser: { name: a.name } } });
      assert.ok(await findUserByName(r.env.gw.app.runtime.context(), a.name!), `${a.name} was acknowledged and is stored`);
    }
  });

  it('works again after the link returns, without a restart', async () => {
    assert.equal((await tunnel()).status, 200);
    // C kept the agent and its heartbeats reach the database again: a replica with nothing cached (D,
    // which never lost its link) finds the tunnel's credential and relays through C.
    const d = await r.start();
    try {
      const viaD = async (): Promise<number> => (await fetch(`${d.httpUrl}/tunnels/clusters/${r.env.identifier}/api/v1/namespaces/ns1/pods`, { headers: { authorization: `Bearer ${r.env.gw.adminToken}` } })).status;
      await waitFor('D to route through C', async () => (await viaD()) === 200, 15_000);
    } finally {
      await d.stop();
    }
    const w = await write('after-the-cut');
    assert.equal(w.status, 200, w.text);
    assert.equal((await read()).status, 200);
    assert.ok(await findUserByName(r.env.gw.app.runtime.context(), 'after-the-cut'), 'stored');
  });
});
