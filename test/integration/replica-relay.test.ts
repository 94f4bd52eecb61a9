import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerCluster } from '../helpers/clusters';
import { kubectl, spawnKubectl } from '../helpers/fake-kube';
import { metricValue, startReplicas, type Replica, type Replicas } from '../helpers/relay-replicas';
import { TunnelAgent } from '../helpers/tunnel-agent';
import { waitFor } from '../helpers/wait';
import { BlackholeProxy } from '../helpers/zookeeper';

/**
 * Replicas on one MariaDB and one ZooKeeper: the cluster's apiserver is reachable only through its
 * agent's tunnel (its reported address refuses), and the agent is connected to replica A. kubectl
 * talks to B, which relays at the dial level through A.
 */
describe('replicas relay agent tunnels to each other', () => {
  let r: Replicas;
  let b: Replica;
  let agent: TunnelAgent;
  let adminKc: string;

  const connectAgent = (gatewayUrl: string): Promise<TunnelAgent> =>
    TunnelAgent.connect({ gatewayUrl, gatewayCa: r.env.gatewayCaPem, clusterId: r.env.clusterId, registerToken: r.env.registerToken, address: r.env.fake.url, userToken: r.env.fake.token, caPem: r.env.fake.caPem });
  const list = (replica: { httpUrl: string }, identifier = r.env.identifier): Promise<Response> =>
    fetch(`${replica.httpUrl}/tunnels/clusters/${identifier}/api/v1/namespaces/ns1/pods`, { headers: { authorization: `Bearer ${r.env.gw.adminToken}` }, signal: AbortSignal.timeout(20_000) });
  const fakeTarget = (): string => `tcp/127.0.0.1:${new URL(r.env.fake.url).port}`;

  before(async () => {
    r = await startReplicas();
    r.env.fake.addPod('ns1', 'web-1');
    b = await r.start();
    adminKc = await r.env.kubeconfigFor(r.env.gw.adminToken, 'admin');
    assert.notEqual((await list(b)).status, 200, 'without a tunnel anywhere the cluster cannot be reached');
    agent = await connectAgent(r.env.httpsUrl);
  });
  after(async () => {
    await agent?.close();
    await r?.stop();
  });

  it('serves kubectl get, watch and exec through B with the agent connected to A, decided and audited on B', async () => {
    await waitFor('B to route through A', async () => (await list(b)).status === 200, 15_000);
    const viaB = r.kubeconfigVia(adminKc, b, 'admin-b');
    const get = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: viaB });
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /pod\/web-1/);

    const watch = spawnKubectl(['get', 'pods', '-n', 'ns1', '-w', '-o', 'name'], { kubeconfig: viaB });
    try {
      await watch.waitFor(/pod\/web-1/, 15_000);
      r.env.fake.addPod('ns1', 'web-2');
      await watch.waitFor(/pod\/web-2/, 15_000);
    } finally {
      watch.proc.kill();
    }
    const exec = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'relayed'], { kubeconfig: viaB });
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout.trim(), 'relayed');

    // The agent was asked to dial only its own apiserver address, and only A's tunnel exists.
    assert.deepEqual([...new Set(agent.connects)], [fakeTarget()]);
    // B decided and audited the requests (A only piped bytes); the relays show on both ends.
    const audited = b.logs.parsed.filter((l) => (l['audit'] as { cluster?: string } | undefined)?.cluster === r.env.clusterId);
    assert.ok(audited.length >= 3, `B's audit names the cluster (${audited.length} events)`);
    assert.ok(metricValue(await b.metrics(), /^bcs_api_peer_relays_dialled_total\{result="ok"\} (\S+)$/m) >= 1);
    const aMetrics = await (await fetch(`${r.env.gw.app.listening.urls.find((u) => u.startsWith('http:'))}/metrics`)).text();
    assert.ok(metricValue(aMetrics, /^bcs_api_peer_relays_served_total\{status="101"\} (\S+)$/m) >= 1, 'A served the relays');
  });

  it('refuses a relay signed with another secret: logged by the holder, nothing reaches the apiserver', async () => {
    // A second cluster whose agent connects to B; C has the wrong secret and asks B for it.
    const { cluster, registerToken } = await registerCluster(() => r.env.gw.app.runtime.context(), 'BCS-K8S-40077', { serverAddresses: 'https://127.0.0.1:1', caCertData: r.env.fake.caPem, userToken: r.env.fake.token });
    const second = await TunnelAgent.connect({ gatewayUrl: b.httpsUrl, gatewayCa: r.env.gatewayCaPem, clusterId: cluster.id, registerToken: registerToken, address: r.env.fake.url, userToken: r.env.fake.token, caPem: r.env.fake.caPem });
    const c = await r.start({ secret: 'another-secret-of-the-right-length-0123456789' });
    try {
      await waitFor('B to refuse C', async () => {
        const res = await list(c, cluster.identifier);
        assert.notEqual(res.status, 200, 'a relay with a wrong secret must not be served');
        return b.logs.withMessage('peer relay refused').length > 0;
      }, 15_000);
      const [line] = b.logs.withMessage('peer relay refused');
      assert.equal(line!['clusterId'], cluster.id);
      assert.ok(!JSON.stringify(b.logs.parsed).includes('another-secret'), 'no secret in the logs');
      assert.deepEqual(second.connects, [], "B's agent was never asked to dial");
      assert.ok(metricValue(await b.metrics(), /^bcs_api_peer_relays_served_total\{status="401"\} (\S+)$/m) >= 1);
    } finally {
      await c.stop();
      await second.close();
    }
  });

  it('drops a holder whose ZooKeeper session expires (a partitioned or crashed replica) within the session timeout', async () => {
    const { cluster, registerToken } = await registerCluster(() => r.env.gw.app.runtime.context(), 'BCS-K8S-40078', { serverAddresses: 'https://127.0.0.1:1', caCertData: r.env.fake.caPem, userToken: r.env.fake.token });
    const partition = await BlackholeProxy.start(r.zk.port);
    const d = await r.start({ config: { zookeeper: partition.connectString } });
    const held = await TunnelAgent.connect({ gatewayUrl: d.httpsUrl, gatewayCa: r.env.gatewayCaPem, clusterId: cluster.id, registerToken, address: r.env.fake.url, userToken: r.env.fake.token, caPem: r.env.fake.caPem });
    try {
      await waitFor('B to route through D', async () => (await list(b, cluster.identifier)).status === 200, 15_000);
      const cut = Date.now();
      partition.blackhole();
      // D's session (2 s) expires at the server, its holder node with it; B stops routing there.
      await waitFor('B to drop D', async () => (await list(b, cluster.identifier)).status === 503, 15_000, 100);
      const took = Date.now() - cut;
      assert.ok(took < 2_000 + 5_000, `dropped ${took} ms after the partition (session timeout 2 s)`);
    } finally {
      await held.close();
      await d.stop();
      await partition.close();
    }
  });

  it('A stopped: B stops routing to it, the agent reconnects to B, and kubectl through C works again', async () => {
    const c = await r.start();
    try {
      await waitFor('C to route through A', async () => (await list(c)).status === 200, 15_000);
      await r.env.stopGateway();
      // A's holder node went with its ZooKeeper session: B answers at once instead of dialling a dead peer.
      await waitFor('B to stop routing to A', async () => (await list(b)).status === 503, 5_000);
      agent = await connectAgent(b.httpsUrl);
      await waitFor('C to route through B', async () => (await list(c)).status === 200, 15_000);
      const viaC = r.kubeconfigVia(adminKc, c, 'admin-c');
      const get = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: viaC });
      assert.equal(get.code, 0, get.stderr);
      assert.match(get.stdout, /pod\/web-1/);
      assert.ok(metricValue(await b.metrics(), /^bcs_api_peer_relays_served_total\{status="101"\} (\S+)$/m) >= 1, 'B now serves the relays');
    } finally {
      await c.stop();
    }
  });
});
