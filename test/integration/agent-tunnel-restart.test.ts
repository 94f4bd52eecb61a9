import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kubectl } from '../helpers/fake-kube';
import { getHealthz, podEnv, spawnAgent, writeServiceAccount, type AgentProcess } from '../helpers/agent';
import { DIALECTS } from '../helpers/db';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { waitFor } from '../helpers/wait';

/**
 * The gateway goes away under a connected agent and comes back on the same address, database and
 * data dir: the agent notices, reports itself unhealthy, redials on its own backoff and kubectl works
 * again through the new tunnel without anyone touching the agent.
 */
for (const dialect of DIALECTS) {
  describe(`gateway restarted under a connected agent (${dialect})`, () => {
    let env: GatewayEnv;
    let adminKc: string;
    let agent: AgentProcess;
    let healthPort: number;

    const getPods = () => kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name', '--request-timeout', '10s'], { kubeconfig: adminKc });

    before(async () => {
      env = await startGatewayEnv(dialect, {}, () => 'https://127.0.0.1:1');
      env.fake.addPod('ns1', 'web-1');
      adminKc = await env.kubeconfigFor(env.gw.adminToken, 'admin');
      const apiserver = new URL(env.fake.url);
      const saDir = writeServiceAccount(env.fake.token, env.fake.caPem);
      const pod = podEnv({ saDir, apiserverPort: Number(apiserver.port), registerToken: env.registerToken, serverCert: env.gatewayCaPem });
      agent = spawnAgent(['--bke-address', env.httpsUrl, '--cluster-id', env.clusterId, '--use-websocket', '--give-up-after', '0'], pod);
      healthPort = await agent.healthPort();
      await agent.waitForLog('tunnel connected');
    });
    after(async () => {
      await agent?.stop();
      await env?.stop();
    });

    it('serves kubectl and reports healthy while connected', async () => {
      const pods = await getPods();
      assert.equal(pods.code, 0, pods.stderr);
      assert.match(pods.stdout, /pod\/web-1/);
      assert.equal((await getHealthz(healthPort)).status, 200);
    });

    it('gateway stopped: the agent reports 503 on /healthz and kubectl fails', async () => {
      const from = agent.logs().length;
      await env.stopGateway();
      await agent.waitForLog('tunnel closed', 20_000, from);
      const health = await waitFor('agent unhealthy', async () => ((await getHealthz(healthPort)).status === 503 ? true : undefined), 10_000);
      assert.ok(health);
      assert.match((await getHealthz(healthPort)).body, /^not ok/);
      // The agent keeps trying (and failing) while nothing listens.
      await agent.waitForLog('cannot open the tunnel', 20_000, from);
      assert.notEqual((await getPods()).code, 0);
    });

    it('gateway started again: the agent reconnects by itself, /healthz is 200 and kubectl works', async () => {
      const from = agent.logs().length;
      await env.startGateway();
      // Backoff is 1 s doubling with jitter, capped at 30 s: a redial comes within one cap.
      await agent.waitForLog('tunnel connected', 45_000, from);
      await waitFor('agent healthy again', async () => ((await getHealthz(healthPort)).status === 200 ? true : undefined), 10_000);
      await waitFor('kubectl works again', async () => ((await getPods()).code === 0 ? true : undefined), 20_000);
      const pods = await getPods();
      assert.match(pods.stdout, /pod\/web-1/);
      assert.equal(agent.child.exitCode, null, 'the agent was never restarted');
    });
  });
}
