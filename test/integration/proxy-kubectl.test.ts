import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kubectl, spawnKubectl } from '../helpers/fake-kube';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';

describe('kubectl through the gateway (kubeconfig from the GraphQL mutation)', () => {
  let env: GatewayEnv;
  let adminKc: string;
  let aliceKc: string;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('ns1', 'web-1');
    env.fake.addPod('ns2', 'db-1');
    // alice may read pods (and logs) in ns1 only; nothing grants her exec.
    env.fake.grant({ user: 'plain.alice' }, [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] }], 'ns1');
    adminKc = await env.kubeconfigFor(env.gw.adminToken, 'admin');
    aliceKc = await env.kubeconfigFor(env.alice.token, 'alice');
  });
  after(async () => env?.stop());

  it('lists pods as a super user and as a normal user within RBAC', async () => {
    const admin = await kubectl(['get', 'pods', '-n', 'ns2', '-o', 'name'], { kubeconfig: adminKc });
    assert.equal(admin.code, 0, admin.stderr);
    assert.match(admin.stdout, /pod\/db-1/);
    const alice = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: aliceKc });
    assert.equal(alice.code, 0, alice.stderr);
    assert.match(alice.stdout, /pod\/web-1/);
    const denied = await kubectl(['get', 'pods', '-n', 'ns2'], { kubeconfig: aliceKc });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /forbidden: User "plain\.alice" cannot list resource "pods"/);
  });

  it('streams watch events as they happen', async () => {
    const watch = spawnKubectl(['get', 'pods', '-n', 'ns1', '-w', '-o', 'name'], { kubeconfig: aliceKc });
    try {
      await watch.waitFor(/pod\/web-1/);
      env.fake.addPod('ns1', 'web-2');
      await watch.waitFor(/pod\/web-2/, 10_000);
    } finally {
      watch.proc.kill();
    }
  });

  it('follows logs line by line', async () => {
    env.fake.appendLog('ns1', 'web-1', 'first line');
    const logs = spawnKubectl(['logs', '-f', '-n', 'ns1', 'web-1'], { kubeconfig: aliceKc });
    try {
      await logs.waitFor(/first line/);
      env.fake.appendLog('ns1', 'web-1', 'second line');
      await logs.waitFor(/second line/, 10_000);
    } finally {
      logs.proc.kill();
    }
  });

  it('execs over WebSocket, and over SPDY when WebSockets are off', async () => {
    const ws = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'ok'], { kubeconfig: adminKc });
    assert.equal(ws.code, 0, ws.stderr);
    assert.equal(ws.stdout.trim(), 'ok');
    const spdy = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'spdy-ok'], { kubeconfig: adminKc, env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } });
    assert.equal(spdy.code, 0, spdy.stderr);
    assert.equal(spdy.stdout.trim(), 'spdy-ok');
  });

  it('refuses an exec that cluster RBAC does not allow', async () => {
    const r = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'nope'], { kubeconfig: aliceKc });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /forbidden/i);
    assert.doesNotMatch(r.stdout, /nope/);
  });

  it('answers auth can-i for the impersonated normal user and for the super user', async () => {
    const aliceYes = await kubectl(['auth', 'can-i', 'list', 'pods', '-n', 'ns1'], { kubeconfig: aliceKc });
    assert.equal(aliceYes.stdout.trim(), 'yes', aliceYes.stderr);
    const aliceNo = await kubectl(['auth', 'can-i', 'create', 'pods/exec', '-n', 'ns1'], { kubeconfig: aliceKc });
    assert.equal(aliceNo.stdout.trim(), 'no');
    const admin = await kubectl(['auth', 'can-i', 'create', 'pods/exec', '-n', 'ns1'], { kubeconfig: adminKc });
    assert.equal(admin.stdout.trim(), 'yes');
  });

  it("honours a super user's --as and refuses a normal user's", async () => {
    const asAlice = await kubectl(['auth', 'can-i', 'list', 'pods', '-n', 'ns2', '--as', 'plain.alice'], { kubeconfig: adminKc });
    assert.equal(asAlice.stdout.trim(), 'no');
    const escalate = await kubectl(['get', 'pods', '-n', 'ns2', '--as', 'admin', '--as-group', 'system:masters'], { kubeconfig: aliceKc });
    assert.notEqual(escalate.code, 0);
    // kubectl prints discovery 403s without their message; the message is asserted in the security suite.
    assert.match(escalate.stderr, /Error from server \(Forbidden\)/);
    assert.ok(!env.fake.requests.some((r) => r.header('impersonate-group').includes('system:masters')), 'the escalation never reached the cluster');
  });
});
