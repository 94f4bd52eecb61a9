import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { credsOf, registerCluster } from '../helpers/clusters';
import { DIALECTS } from '../helpers/db';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { handshakeHeaders, TunnelAgent, type TunnelAgentOptions } from '../helpers/tunnel-agent';
import { waitFor } from '../helpers/wait';
import { findTunnelCredential, openTunnelCredential } from '../../src/domain/tunnel-credentials';
import { MessageType } from '../../src/tunnel/wire';

const DEAD = 'https://127.0.0.1:1';

for (const dialect of DIALECTS) {
  describe(`agent tunnel handshake, bad input and revocation (${dialect})`, () => {
    let env: GatewayEnv;
    let httpUrl: string;
    let second: { clusterId: string; registerToken: string };
    const agents: TunnelAgent[] = [];

    const opts = (o: Partial<TunnelAgentOptions> = {}): TunnelAgentOptions => ({
      gatewayUrl: httpUrl,
      clusterId: env.clusterId,
      registerToken: env.registerToken,
      address: env.fake.url,
      userToken: env.fake.token,
      caPem: env.fake.caPem,
      ...o,
    });
    const connect = async (o: Partial<TunnelAgentOptions> = {}): Promise<TunnelAgent> => {
      const a = await TunnelAgent.connect(opts(o));
      agents.push(a);
      return a;
    };
    const refusal = async (o: Partial<TunnelAgentOptions>): Promise<{ status: number; body: string }> => {
      const err = (await TunnelAgent.connect(opts(o)).then(
        () => assert.fail('the handshake must be refused'),
        (e: unknown) => e,
      )) as { status: number; body: string };
      return err;
    };
    const get = (clusterKey: string): Promise<Response> =>
      fetch(`${httpUrl}/tunnels/clusters/${clusterKey}/api/v1/namespaces/ns1/pods`, { headers: { authorization: `Bearer ${env.gw.adminToken}` }, signal: AbortSignal.timeout(20_000) });
    const closed = (a: TunnelAgent): Promise<{ code: number; reason: string }> => waitFor('tunnel closed', () => a.closeInfo, 10_000);

    before(async () => {
      env = await startGatewayEnv(dialect, {}, () => DEAD);
      httpUrl = env.gw.app.listening.urls.find((u) => u.startsWith('http:'))!;
      env.fake.addPod('ns1', 'web-1');
      const b = await registerCluster(() => env.gw.app.runtime.context(), 'BCS-K8S-40002', credsOf(env.fake, DEAD));
      second = { clusterId: b.cluster.id, registerToken: b.registerToken };
    });
    after(async () => {
      await Promise.all(agents.map((a) => a.close()));
      await env?.stop();
    });

    it('refuses bad handshakes with a real status before any upgrade, naming what is wrong', async () => {
      const forbidden = await refusal({ module: 'bogus' });
      assert.equal(forbidden.status, 403);
      assert.match(forbidden.body, /unknown tunnel module/);
      // A driver's module is known, but this cluster is not a mesos cluster.
      const notMesos = await refusal({ module: 'mesos-driver' });
      assert.equal(notMesos.status, 403);
      assert.match(notMesos.body, /mesos-driver tunnels serve mesos clusters only/);
      const missing = await refusal({ headers: { 'BCS-API-Tunnel-ClusterId': undefined } });
      assert.equal(missing.status, 400);
      assert.match(missing.body, /missing header BCS-API-Tunnel-ClusterId/);
      const notBase64 = await refusal({ headers: { 'BCS-API-Tunnel-Params': '{"address":"x"}' } });
      assert.equal(notBase64.status, 400);
      assert.match(notBase64.body, /not base64/);
      const notJson = await refusal({ headers: { 'BCS-API-Tunnel-Params': Buffer.from('not json').toString('base64') } });
      assert.equal(notJson.status, 400);
      assert.match(notJson.body, /JSON object/);
      const noCa = await refusal({ headers: { 'BCS-API-Tunnel-Params': Buffer.from(JSON.stringify({ address: env.fake.url, userToken: 't' })).toString('base64') } });
      assert.equal(noCa.status, 400);
      assert.match(noCa.body, /"caCert" is required/);
      const wrong = await refusal({ registerToken: 'not-the-token' });
      assert.equal(wrong.status, 401);
      assert.match(wrong.body, /failed authentication/);
      assert.doesNotMatch(wrong.body, /not-the-token/);
      // A register token authorises its own cluster only; an unknown cluster gets the same answer.
      assert.equal((await refusal({ registerToken: second.registerToken })).status, 401);
      assert.equal((await refusal({ clusterId: 'BCS-K8S-49999' })).status, 401);
      // Nothing was stored by any of these.
      assert.equal(await findTunnelCredential(env.gw.app.runtime.context(), env.clusterId), null);
    });

    it('stores the tunnel credential sealed and serves the cluster through the tunnel; the module "kubeagent" is accepted', async () => {
      const agent = await connect({ module: 'kubeagent' });
      const res = await get(env.identifier);
      assert.equal(res.status, 200, await res.clone().text());
      assert.match(await res.text(), /web-1/);
      const cred = await waitFor('credential stored', () => findTunnelCredential(env.gw.app.runtime.context(), env.clusterId), 10_000);
      assert.ok(!cred.userTokenSealed.includes(env.fake.token) && !cred.caCertSealed.includes('BEGIN CERTIFICATE'), 'sealed at rest');
      const opened = openTunnelCredential(env.gw.app.runtime.context(), cred);
      assert.equal(opened.userToken, env.fake.token);
      assert.equal(opened.serverAddress, new URL(env.fake.url).origin);
      const query = 'query($c: ID!) { cluster(id: $c) { reachedVia tunnel { connectedAt apiserverAddress agentAddress caFingerprint } } }';
      type Reach = { cluster: { reachedVia: string | null; tunnel: { apiserverAddress: string; agentAddress: string | null } | null } };
      const live = await env.graphql<Reach>(env.gw.adminToken, query, { c: env.clusterId });
      assert.equal(live.data?.cluster.reachedVia, 'TUNNEL', JSON.stringify(live));
      assert.equal(live.data?.cluster.tunnel?.apiserverAddress, new URL(env.fake.url).origin);
      assert.match(live.data?.cluster.tunnel?.agentAddress ?? '', /127\.0\.0\.1/);
      const denied = await env.graphql<Reach>(env.alice.token, query, { c: env.clusterId });
      assert.ok(denied.errors?.length, 'tunnel status is for super users');
      await agent.close();
      await waitFor('credential removed', async () => !(await findTunnelCredential(env.gw.app.runtime.context(), env.clusterId)), 10_000);
      const gone = await env.graphql<Reach>(env.gw.adminToken, query, { c: env.clusterId });
      assert.equal(gone.data?.cluster.reachedVia, 'DIRECT');
      assert.equal(gone.data?.cluster.tunnel, null);
    });

    it('answers a frame for an unknown connection and an agent-side Connect with an Error, and keeps the session', async () => {
      const agent = await connect();
      agent.send({ connId: 77, type: MessageType.Data, payload: Buffer.from('stray') });
      agent.send({ connId: 78, type: MessageType.Connect, payload: Buffer.from('tcp/10.0.0.1:22') });
      const errors = await waitFor('two Error answers', () => {
        const e = agent.received.filter((m) => m.type === MessageType.Error && (m.connId === 77 || m.connId === 78));
        return e.length === 2 ? e : undefined;
      });
      assert.match(errors.find((m) => m.connId === 77)!.payload.toString(), /unknown connection/);
      assert.match(errors.find((m) => m.connId === 78)!.payload.toString(), /accepts no connections/);
      const res = await get(env.identifier);
      assert.equal(res.status, 200);
      assert.equal(agent.closeInfo, undefined);
      await agent.close();
    });

    it('closes a session that sends a text frame, an oversized frame or a malformed one; another cluster\'s tunnel keeps working', async () => {
      const other = await connect({ clusterId: second.clusterId, registerToken: second.registerToken });
      const text = await connect();
      text.ws.send('hello');
      const t = await closed(text);
      assert.equal(t.code, 1003);
      assert.match(t.reason, /binary/);

      const big = await connect();
      big.ws.send(Buffer.alloc(2 * 1024 * 1024 + 1));
      assert.equal((await closed(big)).code, 1009);

      const bad = await connect();
      bad.ws.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
      const m = await closed(bad);
      assert.equal(m.code, 1002);
      assert.match(m.reason, /malformed tunnel message/);

      const res = await get('BCS-K8S-40002');
      assert.equal(res.status, 200, 'the second cluster is still served through its own tunnel');
      assert.equal(other.closeInfo, undefined);
      // The first cluster lost its tunnels: 503 at once, not a hang.
      const gone = await get(env.identifier);
      assert.equal(gone.status, 503);
      await other.close();
    });

    it('closes the tunnel when its register token is revoked; the next handshake gets 401', async () => {
      const agent = await connect({ clusterId: second.clusterId, registerToken: second.registerToken });
      assert.equal((await get('BCS-K8S-40002')).status, 200);
      const r = await env.graphql(env.gw.adminToken, 'mutation($c: ID!) { revokeRegisterToken(clusterId: $c) { id } }', { c: second.clusterId });
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      const c = await closed(agent);
      assert.equal(c.code, 1008);
      assert.match(c.reason, /revoked/);
      assert.equal((await refusal({ clusterId: second.clusterId, registerToken: second.registerToken })).status, 401);
      assert.equal((await get('BCS-K8S-40002')).status, 503);
      await waitFor('credential removed', async () => !(await findTunnelCredential(env.gw.app.runtime.context(), second.clusterId)), 10_000);
    });

    it('speaks the original wire format: frames built byte by byte', async () => {
      const fakeUrl = new URL(env.fake.url);
      const ws = new WebSocket(`${httpUrl.replace('http', 'ws')}/bcsapi/v1/websocket/connect`, { headers: handshakeHeaders(opts()) });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const net = await import('node:net');
      const upstream = new Map<number, import('node:net').Socket>();
      const seen: Buffer[] = [];
      ws.on('message', (frame: Buffer) => {
        seen.push(frame);
        // Skip the message id (a varint of any length), then read the hand-encoded fields.
        let i = 0;
        while (frame[i]! & 0x80) i += 1;
        i += 1;
        const connByte = frame[i]!;
        assert.ok(connByte < 0x80, 'a small connection id is one varint byte');
        const connId = connByte / 2;
        const type = frame[i + 1];
        if (type === 0x04) {
          // Connect (2, zig-zag 4), a deadline varint, then "tcp/<host:port>".
          let j = i + 2;
          while (frame[j]! & 0x80) j += 1;
          assert.equal(frame.subarray(j + 1).toString(), `tcp/127.0.0.1:${fakeUrl.port}`);
          const s = net.connect(Number(fakeUrl.port), '127.0.0.1');
          upstream.set(connId, s);
          // Data back: id 1 (0x02), the connection id, type Data (1 → 0x02), deadline 0 (0x00), payload.
          s.on('data', (c: Buffer) => ws.send(Buffer.concat([Buffer.from([0x02, connId * 2, 0x02, 0x00]), c])));
          // EOF: id 1, the connection id, type Error (3 → 0x06), "EOF".
          s.on('close', () => ws.readyState === ws.OPEN && ws.send(Buffer.concat([Buffer.from([0x02, connId * 2, 0x06]), Buffer.from('EOF')])));
        } else if (type === 0x02) {
          let j = i + 2;
          while (frame[j]! & 0x80) j += 1;
          upstream.get(connId)?.write(frame.subarray(j + 1));
        } else if (type === 0x06) upstream.get(connId)?.destroy();
      });
      try {
        const res = await get(env.identifier);
        assert.equal(res.status, 200);
        assert.match(await res.text(), /web-1/);
        assert.ok(seen.some((f) => f.includes(Buffer.from('tcp/'))));
      } finally {
        for (const s of upstream.values()) s.destroy();
        ws.close();
      }
    });

    it('prefers a live tunnel over a dialable reported address, and falls back to dialling when it goes', async () => {
      const { reportCredentials } = await import('../../src/domain/credentials');
      await reportCredentials(env.gw.app.runtime.context(), env.clusterId, { registerToken: env.registerToken, ...credsOf(env.fake) });
      // The previous test's tunnel may still be closing: wait until the dialled address answers.
      await waitFor('dialled directly', async () => (await get(env.identifier)).status === 200, 10_000);
      const agent = await connect();
      const res = await get(env.identifier);
      assert.equal(res.status, 200);
      assert.ok(agent.connects.length > 0, 'the request went through the tunnel');
      await agent.close();
      await waitFor('tunnel gone', async () => (await get(env.identifier)).status === 200 && agent.closeInfo !== undefined, 10_000);
    });

    it('ends an open watch when the agent goes, and caps the tunnels one cluster may hold', async () => {
      const agent = await connect();
      const res = await fetch(`${httpUrl}/tunnels/clusters/${env.identifier}/api/v1/namespaces/ns1/pods?watch=1`, { headers: { authorization: `Bearer ${env.gw.adminToken}` } });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      assert.match(Buffer.from(first.value!).toString(), /web-1/);
      agent.kill();
      // The stream ends (or fails) instead of hanging: nothing more can come through the dead tunnel.
      const ended = await Promise.race([
        (async () => {
          for (;;) if ((await reader.read()).done) return 'ended';
        })().catch(() => 'failed'),
        new Promise((r) => setTimeout(() => r('hung'), 15_000).unref()),
      ]);
      assert.notEqual(ended, 'hung');

      const many = await Promise.all(Array.from({ length: 8 }, () => connect()));
      const over = await refusal({});
      assert.equal(over.status, 429);
      assert.ok(many.every((a) => a.closeInfo === undefined), 'tunnels connecting together all stay open');
      await Promise.all(many.map((a) => a.close()));
    });

    it('closes the tunnels of a deleted cluster', async () => {
      const agent = await connect();
      const r = await env.graphql(env.gw.adminToken, 'mutation($c: ID!) { deleteCluster(id: $c) { id } }', { c: env.clusterId });
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      const c = await closed(agent);
      assert.equal(c.code, 1008);
    });
  });
}
