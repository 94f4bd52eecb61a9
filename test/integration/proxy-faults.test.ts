import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config/config';
import { sha256Hex } from '../../src/crypto/tokens';
import { deleteCluster } from '../../src/domain/clusters';
import { ApiToken } from '../../src/store/entities';
import { startFakeKube, status } from '../helpers/fake-kube';
import { generateCerts } from '../helpers/fake-kube/certs';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { registerCluster, type ClusterCreds } from '../helpers/clusters';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // Kubernetes Status bodies are read field by field.
  json: any;
  /** The response arrived whole (Node's `res.complete`). */
  complete: boolean;
  error?: string;
}

/** GET (or another method) on the gateway's plain listener; never rejects on a broken response. */
function call(url: string, token: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: { authorization: `Bearer ${token}`, ...opts.headers }, agent: false }, (res) => {
      let text = '';
      let error: string | undefined;
      const done = (): void => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, complete: res.complete, error });
      };
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', (e) => (error = e.message));
      res.on('close', done);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A streaming GET (watch, logs -f): resolves once headers arrive; `text()` is what arrived so far. */
function stream(url: string, token: string): Promise<{ req: http.ClientRequest; res: http.IncomingMessage; text(): string; closed(): boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      let text = '';
      let closed = false;
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', () => undefined);
      res.on('close', () => (closed = true));
      resolve({ req, res, text: () => text, closed: () => closed });
    });
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A loopback port nothing listens on (connections are refused). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const plainBase = (env: GatewayEnv) => new URL(env.tunnelUrl('/')).origin;
const clusterUrl = (env: GatewayEnv, cluster: string, path: string) => `${plainBase(env)}/tunnels/clusters/${cluster}${path}`;

function proxyConfig(p: Partial<Config['proxy']>): Partial<Config> {
  return { proxy: { upstreamServerName: 'kubernetes', connectTimeoutSeconds: 5, responseTimeoutSeconds: 60, maxInflight: 4096, healthIntervalSeconds: 5, idleConnectionSeconds: 30, idleH2SessionSeconds: 120, workers: 1, ...p } };
}

async function addCluster(env: GatewayEnv, id: string, creds?: ClusterCreds): Promise<void> {
  await registerCluster(() => env.gw.app.runtime.context(), id, creds);
}

async function metrics(env: GatewayEnv): Promise<string> {
  const r = await call(`${plainBase(env)}/metrics`, 'unused');
  assert.equal(r.status, 200);
  return r.text;
}

function metricValue(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((x) => l.includes(x)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('tunnel proxy faults (SQLite)', () => {
  let env: GatewayEnv;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('ns1', 'web-1');
  });
  after(async () => env?.stop());

  it('answers an unknown cluster with a 404 NotFound Status', async () => {
    const r = await call(clusterUrl(env, 'BCS-K8S-49999', '/api'), env.gw.adminToken);
    assert.equal(r.status, 404);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(r.json, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'clusters.bcs.tencent.com "BCS-K8S-49999" not found',
      reason: 'NotFound',
      details: { name: 'BCS-K8S-49999', group: 'bcs.tencent.com', kind: 'clusters' },
      code: 404,
    });
  });

  it('answers a cluster without credentials with a 503 Status naming it, and Retry-After', async () => {
    await addCluster(env, 'BCS-K8S-40009');
    const r = await call(clusterUrl(env, 'BCS-K8S-40009', '/api'), env.gw.adminToken);
    assert.equal(r.status, 503);
    assert.equal(r.json?.reason, 'ServiceUnavailable');
    assert.match(r.json?.message, /cluster BCS-K8S-40009 has no credentials/);
    assert.equal(r.headers['retry-after'], '10');
  });

  it('answers 503 within a few seconds when the apiserver refuses connections (plain and upgrade)', async () => {
    const port = await closedPort();
    await addCluster(env, 'BCS-K8S-40003', { serverAddresses: `https://127.0.0.1:${port}`, caCertData: env.fake.caPem, userToken: 'down-token' });
    const started = Date.now();
    const r = await call(clusterUrl(env, 'BCS-K8S-40003', '/api/v1/namespaces'), env.gw.adminToken);
    assert.equal(r.status, 503);
    assert.equal(r.json?.reason, 'ServiceUnavailable');
    assert.match(r.json?.message, /^error trying to reach (service|cluster BCS-K8S-40003)/);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    const up = await call(clusterUrl(env, 'BCS-K8S-40003', '/api/v1/namespaces/ns1/pods/web-1/exec?command=ls&stdout=true'), env.gw.adminToken, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
    }).catch((e: Error) => ({ status: -1, error: e.message }) as Reply);
    assert.equal(up.status, 503, up.error);
  });

  it('answers 503 when the apiserver certificate does not match the reported CA, and never sends it the token', async () => {
    env.fake.addToken('wrong-ca-sa-token', { username: 'system:serviceaccount:kube-system:wrong-ca' });
    await addCluster(env, 'BCS-K8S-40005', { serverAddresses: env.fake.url, caCertData: generateCerts().caPem, userToken: 'wrong-ca-sa-token' });
    const r = await call(clusterUrl(env, 'BCS-K8S-40005', '/api/v1/namespaces'), env.gw.adminToken);
    assert.equal(r.status, 503);
    assert.equal(r.json?.reason, 'ServiceUnavailable');
    assert.match(r.json?.message, /TLS verification of the cluster apiserver failed/);
    const upgrade = await new Promise<string>((resolve) => {
      const s = net.connect(Number(new URL(plainBase(env)).port), '127.0.0.1');
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
      s.write(
        `GET /tunnels/clusters/BCS-K8S-40005/api/v1/namespaces/ns1/pods/web-1/exec?command=ls&stdout=true HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${env.gw.adminToken}\r\n` +
          'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    assert.match(upgrade, /^HTTP\/1\.1 503 /);
    assert.match(upgrade, /TLS verification of the cluster apiserver failed/);
    assert.equal(env.fake.requests.filter((q) => q.header('authorization').some((v) => v.includes('wrong-ca-sa-token'))).length, 0, 'the token went over an unverified connection');
  });

  it('answers 503 after a bounded number of resends when the apiserver closes every request unanswered', async () => {
    // Every request is read, then its connection is closed unanswered: each failure looks like a stale kept-alive
    // socket, which the gateway may resend once per address (plus one), never in a loop.
    const certs = generateCerts();
    let received = 0;
    const server = tls.createServer({ cert: certs.certPem, key: certs.keyPem }, (socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (d: Buffer) => {
        if (d.toString('latin1').startsWith('GET /api/v1/namespaces/reset-every-time')) received += 1;
        socket.destroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = server.address() as net.AddressInfo;
      await addCluster(env, 'BCS-K8S-40011', { serverAddresses: `https://127.0.0.1:${port}`, caCertData: certs.caPem, userToken: 'reset-token' });
      const r = await call(clusterUrl(env, 'BCS-K8S-40011', '/api/v1/namespaces/reset-every-time'), env.gw.adminToken);
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json?.reason, 'ServiceUnavailable');
      assert.ok(received >= 1 && received <= 3, `the apiserver received the request ${received} times (one address: at most 3)`);
    } finally {
      server.close();
    }
  });

  it("passes the apiserver's own Status bodies through byte-identical", async () => {
    const body = status(409, 'Operation cannot be fulfilled on configmaps "conflict": my own test message', 'Conflict', { name: 'conflict', kind: 'configmaps' });
    const remove = env.fake.statusFor({ path: '/api/v1/namespaces/default/configmaps/conflict' }, 409, body.message!, body.reason);
    try {
      const r = await call(env.tunnelUrl('/api/v1/namespaces/default/configmaps/conflict'), env.gw.adminToken);
      assert.equal(r.status, 409);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.text, JSON.stringify(status(409, body.message!, body.reason)));
      const u = await call(env.tunnelUrl('/api/v1/namespaces/default/configmaps/unknown'), env.gw.adminToken);
      assert.equal(u.status, 404);
      assert.equal(u.text, JSON.stringify(status(404, 'configmaps "unknown" not found', 'NotFound', { name: 'unknown', group: '', kind: 'configmaps' })));
    } finally {
      remove();
    }
  });

  it('aborts the client response when the apiserver resets mid-body (never a complete-looking truncated 200)', async () => {
    const remove = env.fake.resetMidBody({ path: '/api/v1/namespaces/default/configmaps/reset' });
    try {
      const r = await call(env.tunnelUrl('/api/v1/namespaces/default/configmaps/reset'), env.gw.adminToken);
      assert.equal(r.status, 200);
      assert.equal(r.complete, false, `the client saw a complete response: ${r.text}`);
      assert.ok(r.text.length < Number(r.headers['content-length']), 'the body was cut short');
    } finally {
      remove();
    }
  });

  it('ends the upstream watch within 1 s of the client going away', async () => {
    assert.equal(env.fake.streams.watch, 0);
    const w = await stream(env.tunnelUrl('/api/v1/namespaces/ns1/pods?watch=1'), env.gw.adminToken);
    await waitUntil(() => env.fake.streams.watch === 1 && w.text().includes('web-1'), 3000, 'the watch to open');
    const started = Date.now();
    w.req.destroy();
    await waitUntil(() => env.fake.streams.watch === 0, 1000, 'the upstream watch to close');
    assert.ok(Date.now() - started < 1000);
  });

  it('keeps a watch on a just-registered cluster open when the change feed replays its creation, and cuts it when the cluster is deleted', async () => {
    await waitUntil(() => env.fake.streams.watch === 0, 2000, 'earlier watches to close');
    await addCluster(env, 'BCS-K8S-40007', { serverAddresses: env.fake.url, caCertData: env.fake.caPem, userToken: env.fake.token });
    const w = await stream(clusterUrl(env, 'BCS-K8S-40007', '/api/v1/namespaces/ns1/pods?watch=1'), env.gw.adminToken);
    try {
      await waitUntil(() => env.fake.streams.watch === 1, 3000, 'the watch to open');
      await sleep(1200); // at least two polls of the change feed
      assert.equal(w.closed(), false, 'the watch was cut');
      env.fake.addPod('ns1', 'web-after-replay');
      await waitUntil(() => w.text().includes('web-after-replay'), 3000, 'an event after the replay');
      const ctx = env.gw.app.runtime.context();
      const admin = await ctx.em.findOneOrFail(ApiToken, { digest: sha256Hex(env.gw.adminToken) }, { populate: ['user'] });
      await deleteCluster(ctx, { user: admin.user.getEntity(), token: admin }, 'BCS-K8S-40007');
      await waitUntil(() => w.closed() && env.fake.streams.watch === 0, 1000, 'the deleted cluster\'s watch to be cut');
    } finally {
      w.req.destroy();
    }
  });

  it('uses a new credential report (REST PUT) on the very next request, without cutting a watch on the old one', async () => {
    const second = await startFakeKube();
    try {
      const w = await stream(env.tunnelUrl('/api/v1/namespaces/ns1/pods?watch=1'), env.gw.adminToken);
      await waitUntil(() => env.fake.streams.watch === 1, 3000, 'the watch to open');
      const report = JSON.stringify({ register_token: env.registerToken, server_addresses: second.url, cacert_data: second.caPem, user_token: second.token });
      const put = await call(`${plainBase(env)}/rest/clusters/${env.clusterId}/credentials`, 'none', { method: 'PUT', body: report, headers: { 'content-type': 'application/json' } });
      assert.equal(put.status, 200, put.text);
      env.fake.clearRequests();
      const r = await call(env.tunnelUrl('/version?probe=after-report'), env.gw.adminToken);
      assert.equal(r.status, 200);
      assert.equal(second.requests.filter((q) => q.url.includes('after-report')).length, 1, 'the new apiserver got the next request');
      assert.deepEqual(second.requests[0]!.header('authorization'), [`Bearer ${second.token}`]);
      assert.equal(env.fake.requests.length, 0, 'the old apiserver got a request after the report');
      // The watch opened before the report still streams from the old pool.
      env.fake.addPod('ns1', 'web-after-report');
      await waitUntil(() => w.text().includes('web-after-report'), 3000, 'the old watch to keep streaming');
      w.req.destroy();
    } finally {
      await second.stop();
    }
  });
});

describe('tunnel proxy failover between apiserver addresses', () => {
  let env: GatewayEnv;
  before(async () => {
    const port = await closedPort();
    env = await startGatewayEnv('sqlite', {}, (fake) => `https://127.0.0.1:${port};${fake.url}`);
  });
  after(async () => env?.stop());

  it('serves every GET when the first address refuses connections', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await call(env.tunnelUrl(`/version?n=${i}`), env.alice.token);
      assert.equal(r.status, 200, `request ${i}: ${r.text}`);
    }
    assert.equal(env.fake.requests.filter((q) => q.url.startsWith('/version?n=')).length, 10);
  });
});

describe('tunnel proxy response timeout', () => {
  let env: GatewayEnv;
  before(async () => {
    env = await startGatewayEnv('sqlite', proxyConfig({ responseTimeoutSeconds: 1 }));
  });
  after(async () => env?.stop());

  it('answers 504 Timeout when the apiserver is slower than the configured limit', async () => {
    const remove = env.fake.delayResponses(3000, { path: '/api/v1/namespaces/default/configmaps' });
    try {
      const started = Date.now();
      const r = await call(env.tunnelUrl('/api/v1/namespaces/default/configmaps'), env.gw.adminToken);
      const took = Date.now() - started;
      assert.equal(r.status, 504, r.text);
      assert.equal(r.json?.reason, 'Timeout');
      assert.match(r.json?.message, /^Timeout: /);
      assert.ok(took >= 900 && took < 2500, `took ${took} ms`);
    } finally {
      remove();
    }
  });

  it('does not cut a watch held open longer than the response timeout', async () => {
    const w = await stream(env.tunnelUrl('/api/v1/namespaces/default/pods?watch=1'), env.gw.adminToken);
    try {
      await waitUntil(() => env.fake.streams.watch === 1, 3000, 'the watch to open');
      await sleep(2500);
      assert.equal(w.closed(), false, 'the gateway closed the watch');
      env.fake.addPod('default', 'late-pod');
      await waitUntil(() => w.text().includes('late-pod'), 3000, 'an event after the timeout');
      assert.equal(env.fake.streams.watch, 1);
    } finally {
      w.req.destroy();
    }
  });
});

describe('tunnel proxy concurrency cap and metrics', () => {
  let env: GatewayEnv;
  before(async () => {
    env = await startGatewayEnv('sqlite', proxyConfig({ maxInflight: 2 }));
  });
  after(async () => env?.stop());

  it('answers 429 with Retry-After beyond proxy.maxInflight, and serves again once requests finish', async () => {
    const watches = [
      await stream(env.tunnelUrl('/api/v1/namespaces/default/pods?watch=1'), env.gw.adminToken),
      await stream(env.tunnelUrl('/api/v1/namespaces/default/configmaps?watch=true'), env.gw.adminToken),
    ];
    try {
      await waitUntil(() => env.fake.streams.watch === 2, 3000, 'two watches to open');
      const m = await metrics(env);
      assert.equal(metricValue(m, 'bcs_api_proxy_inflight_requests', 'kind="watch"'), 2, 'the inflight gauge counts the two watches');
      const r = await call(env.tunnelUrl('/version'), env.gw.adminToken);
      assert.equal(r.status, 429);
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(r.json?.kind, 'Status');
      assert.equal(r.json?.reason, 'TooManyRequests');
    } finally {
      for (const w of watches) w.req.destroy();
    }
    await waitUntil(async () => metricValue(await metrics(env), 'bcs_api_proxy_inflight_requests', 'kind="watch"') === 0, 2000, 'the gauge to drop');
    assert.equal((await call(env.tunnelUrl('/version'), env.gw.adminToken)).status, 200);
    const m = await metrics(env);
    assert.ok((metricValue(m, 'bcs_api_request_count_total', 'type="k8s_native",method="GET"') ?? 0) >= 4, m.split('\n').filter((l) => l.includes('k8s_native')).join('\n'));
    assert.ok((metricValue(m, 'bcs_api_request_err_count_total', 'type="k8s_native",method="GET"') ?? 0) >= 1, 'the 429 counts as an error');
  });
});
