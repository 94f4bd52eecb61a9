import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { spawnKubectl } from '../helpers/fake-kube';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';

/** Opens a raw watch through the gateway; resolves once the first event arrived, with a promise of its end. */
function openWatch(url: string, token: string): Promise<{ ended: Promise<number>; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`watch answered ${res.statusCode}`));
      const ended = new Promise<number>((r) => {
        res.once('close', () => r(Date.now()));
        res.once('error', () => r(Date.now()));
      });
      res.once('data', () => resolve({ ended, req }));
      res.resume();
    });
    req.on('error', () => undefined);
  });
}

describe('revocation ends sessions that are already open', () => {
  let env: GatewayEnv;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('ns1', 'web-1');
    env.fake.grant({ user: 'plain.alice' }, [{ apiGroups: [''], resources: ['pods', 'pods/exec', 'pods/log'], verbs: ['get', 'list', 'watch', 'create'] }], 'ns1');
  });
  after(async () => env?.stop());

  it('closes an open watch within a second of its token being revoked, and no other', async () => {
    const issued = await env.graphql<{ issueToken: { secret: string; token: { id: number } } }>(env.alice.token, 'mutation { issueToken(input: {name: "w"}) { secret token { id } } }');
    const { secret, token } = issued.data!.issueToken;
    const url = env.tunnelUrl('/api/v1/namespaces/ns1/pods?watch=1');
    const doomed = await openWatch(url, secret);
    const other = await openWatch(url, env.alice.token);
    const revoked = Date.now();
    await env.graphql(env.alice.token, `mutation { revokeToken(id: ${token.id}) { id } }`);
    const endedAt = await Promise.race([doomed.ended, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.notEqual(endedAt, -1, 'the watch of the revoked token is still open');
    assert.ok(endedAt - revoked < 1000, `took ${endedAt - revoked} ms`);
    const stillOpen = await Promise.race([other.ended.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 300))]);
    assert.equal(stillOpen, true, "another token's watch stays open");
    other.req.destroy();
    await env.fake.waitFor(() => env.fake.streams.watch === 0);
  });

  it('closes a log follow that is streaming when its token is revoked, and the apiserver side with it', async () => {
    const issued = await env.graphql<{ issueToken: { secret: string; token: { id: number } } }>(env.alice.token, 'mutation { issueToken(input: {name: "f"}) { secret token { id } } }');
    const { secret, token } = issued.data!.issueToken;
    env.fake.appendLog('ns1', 'web-1', 'x'.repeat(1 << 20));
    const follow = await openWatch(env.tunnelUrl('/api/v1/namespaces/ns1/pods/web-1/log?follow=true'), secret);
    // Lines keep coming while the token is revoked: the stream is live, not idle.
    const feed = setInterval(() => env.fake.appendLog('ns1', 'web-1', 'y'.repeat(64 * 1024)), 5);
    try {
      await env.fake.waitFor(() => env.fake.streams.log === 1);
      const revoked = Date.now();
      await env.graphql(env.alice.token, `mutation { revokeToken(id: ${token.id}) { id } }`);
      const endedAt = await Promise.race([follow.ended, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
      assert.notEqual(endedAt, -1, 'the follow of the revoked token is still open');
      assert.ok(endedAt - revoked < 1000, `took ${endedAt - revoked} ms`);
      await env.fake.waitFor(() => env.fake.streams.log === 0, 1000);
    } finally {
      clearInterval(feed);
      follow.req.destroy();
    }
  });

  it('cuts a large log body in flight (no follow) when its token is revoked', async () => {
    const issued = await env.graphql<{ issueToken: { secret: string; token: { id: number } } }>(env.alice.token, 'mutation { issueToken(input: {name: "b"}) { secret token { id } } }');
    const { secret, token } = issued.data!.issueToken;
    env.fake.appendLog('ns1', 'web-1', 'z'.repeat(32 << 20));
    let received = 0;
    let complete = false;
    let slow = true;
    const ended = new Promise<number>((resolve, reject) => {
      http
        .get(env.tunnelUrl('/api/v1/namespaces/ns1/pods/web-1/log'), { headers: { authorization: `Bearer ${secret}` } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`log answered ${res.statusCode}`));
          // A slow reader: one chunk now and then, so the body stays in flight for minutes.
          res.on('data', (c: Buffer) => {
            received += c.length;
            if (!slow) return;
            res.pause();
            setTimeout(() => res.resume(), 50);
          });
          res.once('end', () => (complete = true));
          res.once('close', () => resolve(Date.now()));
        })
        .on('error', () => undefined);
    });
    await env.fake.waitFor(() => received > 0, 5000, 'the body to start');
    const revoked = Date.now();
    await env.graphql(env.alice.token, `mutation { revokeToken(id: ${token.id}) { id } }`);
    // From now on read fast: what the kernel buffered before the cut comes out at once, then the end.
    slow = false;
    const endedAt = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.notEqual(endedAt, -1, 'the body of the revoked token is still being relayed');
    assert.ok(endedAt - revoked < 1000, `took ${endedAt - revoked} ms`);
    assert.equal(complete, false, 'a cut body must not look complete');
  });

  it('ends an exec session when its user is disabled', async () => {
    const kubeconfig = await env.kubeconfigFor(env.alice.token, 'alice-exec');
    const exec = spawnKubectl(['exec', '-i', '-n', 'ns1', 'web-1', '--', 'cat'], { kubeconfig });
    try {
      await env.fake.waitFor(() => env.fake.streams.exec === 1);
      const disabled = await env.graphql(env.gw.adminToken, `mutation { disableUser(id: ${env.alice.id}) { id } }`);
      assert.deepEqual(disabled.errors ?? [], []);
      // The gateway cuts both halves: the apiserver side of the session is gone within the bound.
      await env.fake.waitFor(() => env.fake.streams.exec === 0, 1500);
    } finally {
      exec.proc.kill();
    }
  });
});
