/**
 * `bcs-api agent` in report mode, as a process with a pod's environment, against a real gateway over
 * TLS (SERVER_CERT as the only root) and the fake apiserver as "its" cluster.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCluster } from '../../src/domain/clusters';
import { createRegisterToken } from '../../src/domain/register-tokens';
import { getHealthz, podEnv, spawnAgent, writeServiceAccount, type AgentProcess } from '../helpers/agent';
import { startTestApp, tempDir, type TestApp } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { freePorts } from '../helpers/serve-process';
import { waitFor } from '../helpers/wait';
import { call, GATEWAY_CERT_PEM, GATEWAY_KEY_PEM } from './rest-fixtures';

for (const dialect of DIALECTS) {
  describe(`bcs-api agent: report mode against the gateway on ${dialect}`, { timeout: 180_000 }, () => {
    let t: TestApp;
    let fake: FakeKube;
    let plainUrl = '';
    let tlsUrl = '';
    let registerToken = '';
    let saDir = '';
    const certDir = tempDir('bcs-agent-gw-tls-');
    const agents: AgentProcess[] = [];
    const clusterId = 'BCS-K8S-AGENT1';

    before(async () => {
      const certFile = path.join(certDir, 'server.crt');
      const keyFile = path.join(certDir, 'server.key');
      fs.writeFileSync(certFile, GATEWAY_CERT_PEM);
      fs.writeFileSync(keyFile, GATEWAY_KEY_PEM, { mode: 0o600 });
      t = await startTestApp(dialect, { tls: { certFile, keyFile, verifyClientTls: false, address: '127.0.0.1', port: 0 } });
      plainUrl = t.app.listening.urls.find((u) => u.startsWith('http:'))!;
      tlsUrl = t.app.listening.urls.find((u) => u.startsWith('https:'))!;
      fake = await startFakeKube({ protocols: 'http1' });
      fake.apply({
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: 'kubernetes', namespace: 'default' },
        subsets: [{ addresses: [{ ip: '127.0.0.1' }, { ip: '127.0.0.3' }], ports: [{ name: 'https', port: fake.port }] }],
      } as never);
      const ctx = () => t.app.runtime.context();
      await createCluster(ctx(), undefined, { id: clusterId, clusterType: 'k8s', projectId: 'proj' });
      registerToken = (await createRegisterToken(ctx(), undefined, clusterId)).secret;
      saDir = writeServiceAccount(fake.token, fake.caPem);
    });
    after(async () => {
      await Promise.all(agents.map((a) => a.stop()));
      await fake?.stop();
      await t?.stop();
      fs.rmSync(certDir, { recursive: true, force: true });
      if (saDir) fs.rmSync(saDir, { recursive: true, force: true });
    });

    const start = (args: string[], env: Partial<NodeJS.ProcessEnv> = {}): AgentProcess => {
      const a = spawnAgent(['--bke-address', tlsUrl, '--cluster-id', clusterId, '--periodsync', '1', ...args], {
        ...podEnv({ saDir, apiserverPort: fake.port, registerToken, serverCert: GATEWAY_CERT_PEM }),
        ...env,
      });
      agents.push(a);
      return a;
    };
    const stored = async () => (await call(plainUrl, 'GET', `/rest/clusters/${clusterId}/credentials`, { token: t.adminToken })).body as Record<string, string>;
    const assertNoSecrets = (a: AgentProcess, secrets: string[]) => {
      for (const s of secrets) assert.ok(!a.stdout().includes(s) && !a.stderr().includes(s), 'a secret appeared in the agent output');
    };

    it('reports the reachable apiserver, the in-cluster CA and the SA token; reports a rotated token; /healthz is 200', async () => {
      const firstToken = fake.token;
      const agent = start([]);
      await agent.waitForLog('credentials reported');
      const creds = await stored();
      assert.equal(creds['ServerAddresses'], `https://127.0.0.1:${fake.port}`);
      assert.equal(creds['UserToken'], fake.token);
      assert.equal(creds['CaCertData'], fake.caPem);
      const health = await getHealthz(await agent.healthPort());
      assert.equal(health.status, 200, health.body);
      assert.match(health.body, /last report accepted/);
      const metrics = await (await fetch(`http://127.0.0.1:${await agent.healthPort()}/metrics`)).text();
      assert.match(metrics, /bcs_agent_reports_total\{result="ok"\} [1-9]/);
      assert.match(metrics, /bcs_agent_healthy 1/);

      // The kubelet rotates the projected token: the next period carries it.
      const rotated = `rotated-${Date.now()}-token`;
      fs.writeFileSync(path.join(saDir, 'token'), rotated);
      try {
        await waitFor('the rotated token stored', async () => (await stored())['UserToken'] === rotated, 20_000, 200);
      } finally {
        fs.writeFileSync(path.join(saDir, 'token'), firstToken);
      }
      await agent.stop();
      assert.equal(await agent.exitCode(), 0);
      assertNoSecrets(agent, [registerToken, firstToken, rotated]);
    });

    it('reports --external-proxy-addresses instead of the discovered ones (SERVER_CERT as base64)', async () => {
      const agent = start(['--external-proxy-addresses', `https://127.0.0.1:${fake.port};https://proxy.example:6443`], { SERVER_CERT: Buffer.from(GATEWAY_CERT_PEM).toString('base64') });
      await waitFor('the external addresses stored', async () => (await stored())['ServerAddresses'] === `https://127.0.0.1:${fake.port};https://proxy.example:6443`, 20_000, 200);
      await agent.stop();
    });

    it('logs a refused report with code_name and message, never the token; /healthz 503; gives up after --give-up-after', async () => {
      const wrong = `wrong-register-token-${Date.now()}`;
      const agent = start(['--give-up-after', '4'], { REGISTER_TOKEN: wrong });
      const line = await agent.waitForLog('the gateway refused the credentials report');
      assert.equal(line['status'], 400);
      assert.match(String(line['code_name']), /RTOKEN/);
      assert.ok(typeof line['message'] === 'string' && (line['message'] as string).length > 0);
      const health = await getHealthz(await agent.healthPort());
      assert.equal(health.status, 503);
      assert.match(health.body, /not ok: last report refused: HTTP 400/);
      assert.equal(await agent.exitCode(), 1);
      await agent.waitForLog('no report accepted for --give-up-after');
      assertNoSecrets(agent, [wrong, fake.token]);
    });

    it('retries an unreachable gateway with backoff, refuses a gateway its SERVER_CERT does not vouch for', async () => {
      const [closed] = await freePorts(1);
      const unreachable = spawnAgentAt(`https://127.0.0.1:${closed}`, ['--give-up-after', '3']);
      assert.equal(await unreachable.exitCode(), 1);
      const failures = unreachable.logs().filter((l) => l['msg'] === 'credentials report failed');
      assert.ok(failures.length >= 2, `expected retries, got ${failures.length}`);
      assert.match(String(failures[0]!['err']), /ECONNREFUSED/);

      const untrusted = start([], { SERVER_CERT: fake.caPem });
      const line = await untrusted.waitForLog('credentials report failed');
      assert.match(String(line['err']), /certificate|self.signed/i);
      await untrusted.stop();
      assertNoSecrets(untrusted, [registerToken, fake.token]);
    });

    function spawnAgentAt(bke: string, args: string[]): AgentProcess {
      const a = spawnAgent(['--bke-address', bke, '--cluster-id', clusterId, '--periodsync', '1', ...args], podEnv({ saDir, apiserverPort: fake.port, registerToken, serverCert: GATEWAY_CERT_PEM }));
      agents.push(a);
      return a;
    }
  });
}
