/**
 * The forwarder with every plain request on HTTP/2 (`http2: 'all'`), driven directly: a bare HTTP/1.1
 * server in front of `forward()` and a fake kube-apiserver behind it. The gateway's default sends only
 * long-running requests over h2 (see upstream.ts); this keeps the short-request h2 path tested too.
 * Last, one case of the HTTP/1.1 pool that the fake cannot produce: an informational 1xx answer.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ClusterSecrets } from '../../src/domain/credentials';
import { forward } from '../../proxy/k8s/forward';
import type { Admitted } from '../../proxy/k8s/pipeline';
import { isLongRunning } from '../../proxy/k8s/request-kind';
import { writeStatus } from '../../proxy/k8s/status';
import { ClusterUpstream } from '../../proxy/k8s/upstream';
import { rawCall, type Reply } from '../helpers/raw-http';
import { waitFor } from '../helpers/wait';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { generateCerts } from '../helpers/fake-kube/certs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const waitUntil = (cond: () => boolean, timeoutMs: number, what: string): Promise<unknown> => waitFor(what, cond, timeoutMs, 10);

function secretsFor(fake: FakeKube, addresses = [fake.url], ca = fake.caPem): ClusterSecrets {
  return { clusterId: 'c1', serverAddresses: addresses, caCertData: ca, userToken: fake.token, clusterDomain: null, createdAt: new Date(), updatedAt: new Date(), id: 1 };
}

/** A front server that forwards everything to `upstream`, passing `extra` headers straight into the h2 request. */
async function front(upstream: ClusterUpstream, extra: Record<string, string> = {}): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = { ...extra, authorization: `Bearer ${upstream.secrets.userToken}` };
    if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
    if (req.headers['content-length']) headers['content-length'] = req.headers['content-length'];
    const admitted = { principal: {}, cluster: { id: 'c1', identifier: 'c1', upstream }, upstreamPath: req.url ?? '/', headers } as unknown as Admitted;
    forward(req, res, admitted, { responseTimeoutMs: 500, longRunning: isLongRunning(req.method ?? 'GET', req.url ?? '/') }, (r) => {
      if (r.failure) writeStatus(res, r.failure);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const call = (url: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> => rawCall(url, opts);

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const OPTS = { serverName: 'kubernetes', healthIntervalMs: 60_000, connectTimeoutMs: 2_000, http2: 'all' as const };

describe('forward over HTTP/2 for every plain request', () => {
  let fake: FakeKube;
  let upstream: ClusterUpstream;
  let gw: { url: string; close(): Promise<void> };

  before(async () => {
    fake = await startFakeKube();
    fake.addPod('ns1', 'web-1');
    upstream = new ClusterUpstream(secretsFor(fake), OPTS);
    // Connection-specific fields that must never reach an h2 request, whatever put them in the headers.
    gw = await front(upstream, { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive', 'transfer-encoding': 'chunked', upgrade: 'h2c', te: 'gzip', host: 'evil.example', 'x-kept': 'yes' });
  });
  after(async () => {
    upstream?.destroy();
    await gw?.close();
    await fake?.stop();
  });

  it('sends plain requests as streams of one session, without connection-specific fields', async () => {
    fake.clearRequests();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => call(`${gw.url}/api/v1/namespaces/ns1/pods/web-1?n=${i}`)));
    for (const r of replies) assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(replies[0]!.text).metadata.name, 'web-1');
    const recs = fake.requestsTo('/api/v1/namespaces/ns1/pods/web-1');
    assert.equal(recs.length, 20);
    assert.equal(fake.h2Sessions, 1);
    for (const rec of recs) {
      assert.equal(rec.httpVersion, '2.0');
      for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host']) assert.deepEqual(rec.header(name), [], name);
      assert.deepEqual(rec.header('x-kept'), ['yes']);
    }
    for (const name of Object.keys(replies[0]!.headers)) assert.ok(!name.startsWith(':'), name);
  });

  it('forwards a request body and relays upstream Status answers byte-identical', async () => {
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'h2-body' }, data: { a: 'x'.repeat(100_000) } });
    const created = await call(`${gw.url}/api/v1/namespaces/ns1/configmaps`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(created.status, 201, created.text);
    assert.equal(JSON.parse(created.text).data.a.length, 100_000);
    assert.equal(fake.requestsTo('/api/v1/namespaces/ns1/configmaps').at(-1)!.httpVersion, '2.0');
    const again = await call(`${gw.url}/api/v1/namespaces/ns1/configmaps`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(again.status, 409);
    assert.equal(JSON.parse(again.text).reason, 'AlreadyExists');
  });

  it('cuts the client response when the apiserver resets the stream mid-body', async () => {
    const remove = fake.resetMidBody({ path: '/api/v1/namespaces/ns1/configmaps/reset' });
    try {
      const r = await call(`${gw.url}/api/v1/namespaces/ns1/configmaps/reset`);
      assert.equal(r.status, 200);
      assert.equal(r.complete, false, 'a cut body must not look complete');
    } finally {
      remove();
    }
  });

  it('answers 504 when the apiserver is slower than the response timeout, and resets that stream', async () => {
    const resets = fake.streamResets.length;
    const remove = fake.delayResponses(1500, { path: '/api/v1/namespaces/ns1/pods/slow' });
    try {
      const r = await call(`${gw.url}/api/v1/namespaces/ns1/pods/slow`);
      assert.equal(r.status, 504);
      assert.equal(JSON.parse(r.text).reason, 'Timeout');
      await waitUntil(() => fake.streamResets.length > resets, 1000, 'the stream reset');
      assert.equal(fake.streamResets.at(-1), http2.constants.NGHTTP2_CANCEL);
    } finally {
      remove();
    }
  });

  it('keeps serving across GOAWAY: requests after it go on a new session', async () => {
    assert.equal((await call(`${gw.url}/version`)).status, 200);
    fake.goAway();
    await sleep(50);
    for (let i = 0; i < 5; i++) assert.equal((await call(`${gw.url}/version?after-goaway=${i}`)).status, 200);
    assert.equal(fake.requestsTo(/after-goaway/).length, 5);
  });

  it('resets the upstream watch stream when the client goes away', async () => {
    const resets = fake.streamResets.length;
    const req = http.get(`${gw.url}/api/v1/namespaces/ns1/pods?watch=1`, { agent: false });
    req.on('error', () => undefined);
    await waitUntil(() => fake.streams.watch === 1, 3000, 'the watch to open');
    req.destroy();
    await waitUntil(() => fake.streams.watch === 0, 1000, 'the upstream watch to end');
    assert.deepEqual(fake.streamResets.slice(resets), [http2.constants.NGHTTP2_CANCEL]);
  });
});

describe('forward over HTTP/2: unreachable and untrusted apiservers', () => {
  let fake: FakeKube;
  before(async () => {
    fake = await startFakeKube();
  });
  after(async () => fake?.stop());

  it('fails over from an address that refuses connections', async () => {
    const upstream = new ClusterUpstream(secretsFor(fake, [`https://127.0.0.1:${await closedPort()}`, fake.url]), OPTS);
    const gw = await front(upstream);
    try {
      for (let i = 0; i < 4; i++) assert.equal((await call(`${gw.url}/version`)).status, 200);
    } finally {
      upstream.destroy();
      await gw.close();
    }
  });

  it('answers 503 when the apiserver certificate is not signed by the stored CA', async () => {
    const other = await startFakeKube();
    const upstream = new ClusterUpstream(secretsFor(fake, [fake.url], other.caPem), OPTS);
    const gw = await front(upstream);
    try {
      fake.clearRequests();
      const r = await call(`${gw.url}/version`);
      assert.equal(r.status, 503);
      assert.match(JSON.parse(r.text).message, /TLS/);
      assert.equal(fake.requests.length, 0);
    } finally {
      upstream.destroy();
      await gw.close();
      await other.stop();
    }
  });
});

describe('forward over the HTTP/1.1 pool (undici)', () => {
  it('relays the final answer, not a 1xx informational one that came first', async () => {
    const certs = generateCerts();
    const apiserver = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (_req, res) => {
      res.writeEarlyHints({ link: '</openapi/v3>; rel=preload' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","status":"Success"}');
    });
    await new Promise<void>((r) => apiserver.listen(0, '127.0.0.1', () => r()));
    const url = `https://127.0.0.1:${(apiserver.address() as AddressInfo).port}`;
    const secrets: ClusterSecrets = { clusterId: 'c1', serverAddresses: [url], caCertData: certs.caPem, userToken: 't', clusterDomain: null, createdAt: new Date(), updatedAt: new Date(), id: 1 };
    const upstream = new ClusterUpstream(secrets, { ...OPTS, http2: 'off' });
    const gw = await front(upstream);
    try {
      const r = await call(`${gw.url}/version`);
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.text).status, 'Success');
      assert.equal(r.complete, true);
    } finally {
      upstream.destroy();
      await gw.close();
      await new Promise<void>((r) => apiserver.close(() => r()));
    }
  });
});
