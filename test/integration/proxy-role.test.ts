import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type App } from '../../src/app';
import { createLogger } from '../../src/log';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';

describe('the proxy alone (serve --role proxy) against the API\'s store', () => {
  let env: GatewayEnv;
  let sidecar: App;
  let sidecarUrl: string;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('default', 'p1');
    const config = env.gw.app.runtime.config;
    sidecar = await startApp({ ...config, tls: undefined, plain: { address: '127.0.0.1', port: 0 }, bootstrapUsers: [], createDefaultAdmin: false }, createLogger('silent'), { role: 'proxy' });
    sidecarUrl = sidecar.listening.urls[0]!;
  });
  after(async () => {
    await sidecar?.stop();
    await env?.stop();
  });

  it('serves the tunnel but not the management API', async () => {
    const pod = await fetch(`${sidecarUrl}/tunnels/clusters/${env.identifier}/api/v1/namespaces/default/pods/p1`, { headers: { authorization: `Bearer ${env.alice.token}` } });
    assert.equal(pod.status, 403, 'alice has no RBAC grant, so the cluster (not the gateway) refuses');
    const admin = await fetch(`${sidecarUrl}/tunnels/clusters/${env.identifier}/api/v1/namespaces/default/pods/p1`, { headers: { authorization: `Bearer ${env.gw.adminToken}` } });
    assert.equal(admin.status, 200);
    assert.equal(((await admin.json()) as { metadata: { name: string } }).metadata.name, 'p1');
    assert.equal((await fetch(`${sidecarUrl}/graphql`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${sidecarUrl}/rest/users/x`)).status, 404);
    assert.equal((await fetch(`${sidecarUrl}/readyz`)).status, 200);
  });

  it("learns of a token revoked through the API process within a second", async () => {
    const url = `${sidecarUrl}/tunnels/clusters/${env.identifier}/api/v1/namespaces/default/pods/p1`;
    const r = await env.graphql<{ issueToken: { secret: string; token: { id: number } } }>(env.gw.adminToken, 'mutation { issueToken(input: {}) { secret token { id } } }');
    const { secret, token } = r.data!.issueToken;
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${secret}` } })).status, 200);
    await env.graphql(env.gw.adminToken, `mutation { revokeToken(id: ${token.id}) { id } }`);
    const started = Date.now();
    let status = 200;
    while (status !== 401 && Date.now() - started < 3000) {
      await new Promise((res) => setTimeout(res, 50));
      status = (await fetch(url, { headers: { authorization: `Bearer ${secret}` } })).status;
    }
    assert.equal(status, 401);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });
});
