import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawCall, type Reply } from '../helpers/raw-http';
import { waitFor } from '../helpers/wait';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { credsOf, registerCluster } from '../helpers/clusters';

const call = (url: string, token: string, opts: { method?: string; body?: string; headers?: Record<string, string | string[]> } = {}): Promise<Reply> =>
  rawCall(url, { ...opts, headers: { authorization: `Bearer ${token}`, ...opts.headers } });

function stream(url: string, token: string): Promise<{ req: http.ClientRequest; text(): string; closed(): boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      let text = '';
      let closed = false;
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', () => undefined);
      res.on('close', () => (closed = true));
      resolve({ req, text: () => text, closed: () => closed });
    });
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const waitUntil = (cond: () => boolean, timeoutMs: number, what: string): Promise<unknown> => waitFor(what, cond, timeoutMs, 10);

const plainBase = (env: GatewayEnv) => new URL(env.tunnelUrl('/')).origin;

async function addCluster(env: GatewayEnv, id: string, fake: FakeKube): Promise<string> {
  await registerCluster(() => env.gw.app.runtime.context(), id, credsOf(fake));
  return `${plainBase(env)}/tunnels/clusters/${id}`;
}

describe('tunnel proxy: HTTP/2 to the apiserver', () => {
  let env: GatewayEnv;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('ns1', 'web-1');
  });
  after(async () => env?.stop());

  it('multiplexes watches and log follows over one HTTP/2 session; short requests keep the HTTP/1.1 pool', async () => {
    await waitUntil(() => env.fake.streams.watch === 0, 2000, 'earlier watches to close');
    env.fake.clearRequests();
    const watches = await Promise.all(Array.from({ length: 5 }, () => stream(env.tunnelUrl('/api/v1/namespaces/ns1/pods?watch=1'), env.gw.adminToken)));
    env.fake.appendLog('ns1', 'web-1', 'first line');
    const follow = await stream(env.tunnelUrl('/api/v1/namespaces/ns1/pods/web-1/log?follow=true'), env.gw.adminToken);
    try {
      await waitUntil(() => env.fake.streams.watch === 5 && env.fake.streams.log === 1, 3000, 'five watches and a follow upstream');
      assert.equal(env.fake.h2Sessions, 1, 'one session carries every stream');
      for (const rec of env.fake.requestsTo('/api/v1/namespaces/ns1/pods')) assert.equal(rec.httpVersion, '2.0');
      assert.equal(env.fake.requestsTo('/api/v1/namespaces/ns1/pods/web-1/log')[0]!.httpVersion, '2.0');
      env.fake.appendLog('ns1', 'web-1', 'second line');
      await waitUntil(() => follow.text().includes('second line'), 3000, 'the followed log line');
      // The gateway's own headers arrive; pseudo-headers and host never appear as regular headers.
      const rec = env.fake.requestsTo('/api/v1/namespaces/ns1/pods')[0]!;
      assert.deepEqual(rec.header('authorization'), [`Bearer ${env.fake.token}`]);
      assert.equal(rec.header('host').length, 0);
      const r = await call(env.tunnelUrl('/api/v1/namespaces/ns1/pods/web-1?short=1'), env.gw.adminToken);
      assert.equal(r.status, 200);
      assert.equal(env.fake.requestsTo(/short=1/)[0]!.httpVersion, '1.1');
    } finally {
      for (const w of [...watches, follow]) w.req.destroy();
    }
  });

  it('answers the HTTP/1.1 client of a watch with HTTP/1.1 headers (no pseudo-headers, no hop-by-hop fields)', async () => {
    const w = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(env.tunnelUrl('/api/v1/namespaces/ns1/pods?watch=1'), { headers: { authorization: `Bearer ${env.gw.adminToken}` }, agent: false }, resolve).on('error', reject),
    );
    try {
      assert.equal(w.statusCode, 200);
      assert.equal(w.headers['content-type'], 'application/json');
      assert.equal(w.headers['transfer-encoding'], 'chunked');
      assert.ok(w.headers['audit-id'], 'the apiserver Audit-Id is passed back');
      for (const name of Object.keys(w.headers)) assert.ok(!name.startsWith(':'), name);
    } finally {
      w.destroy();
    }
  });

  it('streams a watch over h2 and resets only its stream when the client goes away', async () => {
    await waitUntil(() => env.fake.streams.watch === 0, 2000, 'earlier watches to close');
    const resets = env.fake.streamResets.length;
    const w = await stream(env.tunnelUrl('/api/v1/namespaces/ns1/pods?watch=1'), env.gw.adminToken);
    await waitUntil(() => env.fake.streams.watch === 1 && w.text().includes('web-1'), 3000, 'the watch to open');
    assert.equal(env.fake.requestsTo('/api/v1/namespaces/ns1/pods').at(-1)!.httpVersion, '2.0');
    env.fake.addPod('ns1', 'web-h2-event');
    await waitUntil(() => w.text().includes('web-h2-event'), 3000, 'the event to arrive');
    const sessions = env.fake.h2Sessions;
    w.req.destroy();
    await waitUntil(() => env.fake.streams.watch === 0, 1000, 'the upstream watch to end');
    assert.deepEqual(env.fake.streamResets.slice(resets), [http2.constants.NGHTTP2_CANCEL], 'the stream was reset with CANCEL');
    assert.equal(env.fake.h2Sessions, sessions, 'the session itself stayed open');
    const r = await call(env.tunnelUrl('/version'), env.gw.adminToken);
    assert.equal(r.status, 200);
  });

  it('goes on after the apiserver sends GOAWAY: open watches finish on the old session, new ones use a new session', async () => {
    const w = await stream(env.tunnelUrl('/api/v1/namespaces/ns1/pods?watch=1'), env.gw.adminToken);
    try {
      await waitUntil(() => env.fake.streams.watch === 1, 3000, 'the watch to open');
      env.fake.goAway();
      await sleep(50);
      env.fake.clearRequests();
      const next = await stream(env.tunnelUrl('/api/v1/namespaces/ns1/pods?watch=1&after-goaway=1'), env.gw.adminToken);
      try {
        await waitUntil(() => env.fake.streams.watch === 2, 3000, 'a new watch after GOAWAY');
        assert.equal(env.fake.requestsTo(/after-goaway/)[0]!.httpVersion, '2.0');
        env.fake.addPod('ns1', 'web-after-goaway');
        await waitUntil(() => w.text().includes('web-after-goaway') && next.text().includes('web-after-goaway'), 3000, 'both watches to see the event');
        assert.equal(w.closed(), false);
      } finally {
        next.req.destroy();
      }
    } finally {
      w.req.destroy();
    }
  });

  it('relays exec upgrades over HTTP/1.1 on a connection of their own', async () => {
    env.fake.spdyMode = 'raw';
    try {
      env.fake.clearRequests();
      const port = Number(new URL(plainBase(env)).port);
      const target = new URL(env.tunnelUrl('/api/v1/namespaces/ns1/pods/web-1/exec?command=cat&stdin=true&stdout=true'));
      const socket = net.connect(port, '127.0.0.1');
      let got = '';
      socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
      socket.on('error', () => undefined);
      socket.write(
        `POST ${target.pathname}${target.search} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${env.gw.adminToken}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`,
      );
      await waitUntil(() => got.includes('\r\n\r\n'), 5000, 'the 101');
      assert.match(got, /^HTTP\/1\.1 101 /);
      socket.write('ping-through-h1');
      await waitUntil(() => got.includes('ping-through-h1'), 3000, 'the echo');
      socket.destroy();
      const rec = env.fake.requests.find((q) => q.upgrade === 'spdy')!;
      assert.equal(rec.httpVersion, '1.1');
    } finally {
      env.fake.spdyMode = 'spdy';
    }
  });
});

describe('tunnel proxy: HTTP/2 stream limits and HTTP/1.1 apiservers', () => {
  let env: GatewayEnv;
  let limited: FakeKube;
  let http1: FakeKube;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    limited = await startFakeKube({ maxConcurrentStreams: 2 });
    http1 = await startFakeKube({ protocols: 'http1' });
    for (const f of [limited, http1]) f.addPod('ns1', 'web-1');
  });
  after(async () => {
    await env?.stop();
    await limited?.stop();
    await http1?.stop();
  });

  it('opens another session when the apiserver stream limit is reached, so watches never queue behind each other', async () => {
    const base = await addCluster(env, 'BCS-K8S-40021', limited);
    const watches = await Promise.all(Array.from({ length: 3 }, () => stream(`${base}/api/v1/namespaces/ns1/pods?watch=1`, env.gw.adminToken)));
    try {
      await waitUntil(() => limited.streams.watch === 3, 3000, 'three watches open upstream');
      assert.equal(limited.h2Sessions, 2, 'a second session for the third watch');
      limited.addPod('ns1', 'web-limited');
      await waitUntil(() => watches.every((w) => w.text().includes('web-limited')), 3000, 'every watch to see the event');
      assert.ok(limited.requests.every((q) => q.httpVersion === '2.0'));
    } finally {
      for (const w of watches) w.req.destroy();
    }
  });

  it('falls back to HTTP/1.1 keep-alive when the apiserver does not negotiate h2', async () => {
    const base = await addCluster(env, 'BCS-K8S-40022', http1);
    for (let i = 0; i < 3; i++) {
      const r = await call(`${base}/api/v1/namespaces/ns1/pods/web-1`, env.gw.adminToken);
      assert.equal(r.status, 200, r.text);
    }
    const w = await stream(`${base}/api/v1/namespaces/ns1/pods?watch=1`, env.gw.adminToken);
    try {
      http1.addPod('ns1', 'web-http1');
      await waitUntil(() => w.text().includes('web-http1'), 3000, 'the watch event');
    } finally {
      w.req.destroy();
    }
    assert.ok(http1.requests.length >= 4);
    assert.ok(http1.requests.every((q) => q.httpVersion === '1.1'));
    assert.equal(http1.h2Sessions, 0);
    await waitUntil(() => http1.streams.watch === 0, 1000, 'the upstream watch to end');
  });
});
