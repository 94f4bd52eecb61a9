import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { agentDials, podEnv, spawnAgent, writeServiceAccount, type AgentProcess } from '../helpers/agent';
import { kubectl } from '../helpers/fake-kube';
import { generateCerts } from '../helpers/fake-kube/certs';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { openUpgrade } from '../helpers/stream-clients';
import { waitFor } from '../helpers/wait';

/**
 * The real agent ending the apiserver's TLS (`tls` Connects) when its in-cluster CA does not verify the
 * apiserver, and `--gateway-tls`, which keeps the original way (`tcp` Connects, TLS run by the gateway).
 * The cluster's reported address refuses connections: only the tunnel reaches the fake apiserver.
 */
describe('bcs-api agent: who ends the apiserver\'s TLS', () => {
  let env: GatewayEnv;
  let adminKc: string;
  let agent: AgentProcess | undefined;

  /** Starts an agent, after stopping the one a failed test may have left. */
  const startAgent = async (caPem: string, extra: string[] = []): Promise<AgentProcess> => {
    if (agent) await stopAgent();
    const saDir = writeServiceAccount(env.fake.token, caPem);
    const pod = podEnv({ saDir, apiserverPort: Number(new URL(env.fake.url).port), registerToken: env.registerToken, serverCert: env.gatewayCaPem });
    agent = spawnAgent(['--bke-address', env.httpsUrl, '--cluster-id', env.clusterId, '--use-websocket', '--give-up-after', '0', ...extra], pod);
    return agent;
  };
  const reached = async (): Promise<boolean> => {
    const r = await env.graphql<{ cluster: { tunnel?: { connectedAt?: string } | null } }>(env.gw.adminToken, 'query($id: ID!) { cluster(id: $id) { tunnel { connectedAt } } }', { id: env.clusterId });
    return Boolean(r.data?.cluster.tunnel);
  };
  async function stopAgent(): Promise<void> {
    await agent?.stop();
    agent = undefined;
    await waitFor('tunnel gone', async () => !(await reached()), 15_000);
  }
  const list = () => fetch(env.tunnelUrl('/api/v1/namespaces/ns1/pods'), { headers: { authorization: `Bearer ${env.gw.adminToken}` }, signal: AbortSignal.timeout(20_000) });

  before(async () => {
    env = await startGatewayEnv('sqlite', {}, () => 'https://127.0.0.1:1');
    env.fake.addPod('ns1', 'web-1');
    adminKc = await env.kubeconfigFor(env.gw.adminToken, 'admin');
  });
  after(async () => {
    await agent?.stop();
    await env?.stop();
  });

  it('an apiserver the in-cluster CA does not verify: 503 naming TLS to the client, for requests and upgrades, and nothing reaches the apiserver', async () => {
    agent = await startAgent(generateCerts().caPem);
    await agent.waitForLog('tunnel connected');
    await waitFor('tunnel registered', reached, 10_000);
    const requestsBefore = env.fake.requests.length;
    const res = await list();
    assert.equal(res.status, 503);
    const body = (await res.json()) as { kind: string; message: string };
    assert.equal(body.kind, 'Status');
    assert.match(body.message, /TLS verification of the cluster apiserver failed/);
    const upgrade = await openUpgrade(env, '/api/v1/namespaces/ns1/pods/web-1/exec?command=echo&stdout=true', 'websocket', 'tls');
    upgrade.socket.destroy();
    assert.match(upgrade.head, /^HTTP\/1\.1 503 /);
    assert.match(upgrade.head, /TLS verification of the cluster apiserver failed/);
    const kc = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name', '--request-timeout', '20s'], { kubeconfig: adminKc });
    assert.notEqual(kc.code, 0);
    // The agent tried (tls Connects) but its handshake failed: no request reached the apiserver.
    const dials = await agentDials(agent);
    assert.ok(dials.tls >= 2 && dials.tcp === 0, JSON.stringify(dials));
    assert.equal(env.fake.requests.length, requestsBefore);
    await stopAgent();
  });

  it('--gateway-tls: the agent announces nothing, the gateway runs TLS over tcp Connects, as with the original agent', async () => {
    agent = await startAgent(env.fake.caPem, ['--gateway-tls']);
    await agent.waitForLog('tunnel connected');
    await waitFor('served through the tunnel', async () => (await list()).status === 200, 15_000);
    const exec = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'inner-tls'], { kubeconfig: adminKc });
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout.trim(), 'inner-tls');
    const dials = await agentDials(agent);
    assert.ok(dials.tcp >= 2 && dials.tls === 0, JSON.stringify(dials));
    await stopAgent();
  });

  it('by default the agent ends TLS itself: requests and upgrades through tls Connects only', async () => {
    agent = await startAgent(env.fake.caPem);
    await agent.waitForLog('tunnel connected');
    await waitFor('served through the tunnel', async () => (await list()).status === 200, 15_000);
    const exec = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'agent-tls'], { kubeconfig: adminKc });
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout.trim(), 'agent-tls');
    const dials = await agentDials(agent);
    assert.ok(dials.tls >= 2 && dials.tcp === 0, JSON.stringify(dials));
    // The agent's service-account token reached the apiserver, as through any tunnel.
    assert.equal(env.fake.requests.at(-1)!.header('authorization').at(0), `Bearer ${env.fake.token}`);
  });
});
