import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import crypto from 'node:crypto';
import { echoThrough, kubectl, startPortForward } from '../helpers/fake-kube';
import { agentDials, podEnv, spawnAgent, writeServiceAccount, type AgentProcess } from '../helpers/agent';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { openUpgrade } from '../helpers/stream-clients';
import { waitFor } from '../helpers/wait';

/**
 * The real agent (`bcs-api agent --use-websocket`, spawned as a pod would run it) against the real
 * gateway: the cluster's reported address refuses connections, so kubectl reaches the fake apiserver
 * only through the tunnel the agent holds.
 */
describe('bcs-api agent holds the tunnel kubectl goes through', () => {
  let env: GatewayEnv;
  let adminKc: string;
  let agent: AgentProcess | undefined;

  const startAgent = (): AgentProcess => {
    const apiserver = new URL(env.fake.url);
    const saDir = writeServiceAccount(env.fake.token, env.fake.caPem);
    const pod = podEnv({ saDir, apiserverPort: Number(apiserver.port), registerToken: env.registerToken, serverCert: env.gatewayCaPem });
    return spawnAgent(['--bke-address', env.httpsUrl, '--cluster-id', env.clusterId, '--use-websocket', '--give-up-after', '0'], pod);
  };
  const reach = async (): Promise<{ via?: string; connected: boolean }> => {
    const r = await env.graphql<{ cluster: { reachedVia?: string; tunnel?: { connectedAt?: string } | null } }>(
      env.gw.adminToken,
      'query($id: ID!) { cluster(id: $id) { reachedVia tunnel { connectedAt } } }',
      { id: env.clusterId },
    );
    return { via: r.data?.cluster.reachedVia, connected: Boolean(r.data?.cluster.tunnel) };
  };
  const getPods = () => kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name', '--request-timeout', '20s'], { kubeconfig: adminKc });

  before(async () => {
    env = await startGatewayEnv('sqlite', {}, () => 'https://127.0.0.1:1');
    env.fake.addPod('ns1', 'web-1');
    adminKc = await env.kubeconfigFor(env.gw.adminToken, 'admin');
    const direct = await getPods();
    assert.notEqual(direct.code, 0, 'the cluster must not be reachable without its tunnel');
  });
  after(async () => {
    await agent?.stop();
    await env?.stop();
  });

  it('connects, and kubectl get and exec reach the cluster through it', async () => {
    agent = startAgent();
    await agent.waitForLog('tunnel connected');
    await waitFor('cluster reached through the tunnel', async () => (await reach()).via === 'TUNNEL', 10_000);
    const pods = await getPods();
    assert.equal(pods.code, 0, pods.stderr);
    assert.match(pods.stdout, /pod\/web-1/);
    const exec = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'through-the-agent'], { kubeconfig: adminKc });
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout.trim(), 'through-the-agent');
    // The agent's log never carries its secrets.
    assert.ok(!agent.stdout().includes(env.registerToken) && !agent.stdout().includes(env.fake.token));
  });

  // kubectl 1.32 tunnels port-forward's SPDY over WebSocket by default and falls back to a SPDY upgrade
  // when that fails; the fake apiserver counts which form it served, so a silent fallback fails the test.
  for (const form of ['websocket', 'spdy'] as const) {
    it(`kubectl port-forward moves data both ways through the tunnel (${form === 'websocket' ? 'SPDY tunnelled over WebSocket' : 'SPDY upgrade'})`, async () => {
      env.fake.portForwardMode = 'spdy';
      const before = { ...env.fake.portForwards };
      const pf = await startPortForward('ns1', 'web-1', 80, form, { kubeconfig: adminKc });
      try {
        // Two connections over the one session, then one large enough to need flow control on the way.
        for (const data of [Buffer.from('first-connection'), Buffer.from('second-connection'), crypto.randomBytes(2 * 1024 * 1024)]) {
          const echoed = await echoThrough(pf.port, data, 30_000);
          assert.ok(echoed.equals(data), `echo of ${data.length} bytes differs (${echoed.length} came back); kubectl: ${pf.kubectl.stderr}`);
        }
        const other = form === 'websocket' ? 'spdy' : 'websocket';
        assert.equal(env.fake.portForwards[form], before[form] + 1, `served over ${form}`);
        assert.equal(env.fake.portForwards[other], before[other], `not over ${other}`);
      } finally {
        await pf.kubectl.stop();
        env.fake.portForwardMode = 'raw';
      }
    });
  }

  it('carries port-forward streams (WebSocket and SPDY upgrades on the TLS listener) through the tunnel', async () => {
    const path = '/api/v1/namespaces/ns1/pods/web-1/portforward?ports=80';
    const before = env.fake.requests.length;
    for (const kind of ['websocket', 'spdy'] as const) {
      const { socket, head } = await openUpgrade(env, path, kind, 'tls');
      try {
        assert.match(head, /^HTTP\/1\.1 101 /, head);
        const payload = Buffer.from(`bytes-through-the-agent-${kind}`);
        // The fake apiserver echoes: a WebSocket message (a masked client frame), or raw bytes after the SPDY 101.
        const mask = Buffer.from([1, 2, 3, 4]);
        const frame = kind === 'websocket' ? Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i % 4]!)]) : payload;
        const echoed = new Promise<Buffer>((resolve) => {
          let got = Buffer.alloc(0);
          socket.on('data', (d: Buffer) => {
            got = Buffer.concat([got, d]);
            if (got.includes(payload)) resolve(got);
          });
        });
        socket.write(frame);
        const got = await Promise.race([echoed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no ${kind} port-forward echo`)), 15_000).unref())]);
        assert.ok(got.includes(payload));
      } finally {
        socket.destroy();
      }
    }
    const pf = env.fake.requests.slice(before).filter((r) => r.url.includes('/portforward'));
    assert.equal(pf.length, 2, 'both upgrades reached the apiserver');
    // Everything so far (get, exec, port-forwards) went through TLS the agent ended: a fall back to TLS run by the gateway fails here.
    const dials = await agentDials(agent!);
    assert.ok(dials.tls >= 6 && dials.tcp === 0, JSON.stringify(dials));
  });

  it('agent killed: requests fail; agent restarted: the tunnel and kubectl come back', async () => {
    agent!.child.kill('SIGKILL');
    await agent!.exited;
    await waitFor('tunnel gone', async () => !(await reach()).connected, 15_000);
    const down = await getPods();
    assert.notEqual(down.code, 0);
    agent = startAgent();
    await agent.waitForLog('tunnel connected');
    await waitFor('kubectl works again', async () => (await getPods()).code === 0, 20_000);
  });

  it('a revoked register token closes the tunnel and the agent is refused with 401', async () => {
    const from = agent!.logs().length;
    const r = await env.graphql(env.gw.adminToken, 'mutation($id: ID!) { revokeRegisterToken(clusterId: $id) { id } }', { id: env.clusterId });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    await agent!.waitForLog('tunnel closed', 20_000, from);
    const refused = await agent!.waitForLog('the gateway refused the tunnel', 30_000, from);
    assert.equal(refused['status'], 401);
    await waitFor('tunnel gone after revocation', async () => !(await reach()).connected, 15_000);
    assert.notEqual((await getPods()).code, 0);
  });
});
