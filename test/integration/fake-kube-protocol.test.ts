import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { after, before, beforeEach, describe, it } from 'node:test';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // Tests read Kubernetes bodies field by field.
  json: any;
}

function call(fake: FakeKube, method: string, path: string, opts: { headers?: Record<string, string | string[]>; body?: unknown; token?: string | null } = {}): Promise<Reply> {
  const headers: Record<string, string | string[]> = { ...opts.headers };
  if (opts.token !== null) headers.Authorization = `Bearer ${opts.token ?? fake.token}`;
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (body) headers['Content-Type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: fake.port, method, path, headers, ca: fake.caPem, servername: 'kubernetes' }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes raw bytes on one TLS connection and collects what comes back until it closes or goes quiet. */
function raw(fake: FakeKube, text: string | Buffer, quietMs = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: fake.port, ca: fake.caPem, servername: 'kubernetes' }, () => s.write(text));
    let out = '';
    let timer = setTimeout(() => s.destroy(), quietMs * 5);
    s.on('data', (d) => {
      out += d;
      clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), quietMs);
    });
    s.on('close', () => (clearTimeout(timer), resolve(out)));
    s.on('error', reject);
  });
}

function execSocket(fake: FakeKube, path: string, protocols: string[], headers: Record<string, string> = {}): WebSocket {
  // `servername` reaches tls.connect although @types/ws does not list it.
  const opts = { ca: fake.caPem, servername: 'kubernetes', headers: { Authorization: `Bearer ${fake.token}`, ...headers } };
  return new WebSocket(`wss://127.0.0.1:${fake.port}${path}`, protocols, opts);
}

describe('fake-kube protocol behaviour', () => {
  let fake: FakeKube;
  before(async () => {
    fake = await startFakeKube();
    fake.addPod('ns1', 'web-1');
  });
  after(() => fake.stop());
  beforeEach(() => {
    fake.faults.clear();
    fake.clearRequests();
  });

  it('serves TLS for the name kubernetes under its own fresh CA only', async () => {
    const other = await startFakeKube();
    try {
      assert.notEqual(other.caPem, fake.caPem);
      const wrongCa = https.get({ host: '127.0.0.1', port: fake.port, path: '/version', ca: other.caPem, servername: 'kubernetes' });
      await assert.rejects(new Promise((res, rej) => (wrongCa.on('response', res), wrongCa.on('error', rej))), /self-signed|unable to verify|certificate/);
      const wrongName = https.get({ host: '127.0.0.1', port: fake.port, path: '/version', ca: fake.caPem, servername: 'not-kubernetes' });
      await assert.rejects(new Promise((res, rej) => (wrongName.on('response', res), wrongName.on('error', rej))), /altnames|Hostname/);
    } finally {
      await other.stop();
    }
    assert.equal((await call(fake, 'GET', '/version')).json.major, '1');
  });

  it('answers 401 Status without the SA token and records every request with raw headers', async () => {
    const r = await call(fake, 'GET', '/api/v1/namespaces/ns1/pods', { token: 'nope' });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    assert.equal((await call(fake, 'GET', '/api', { token: null })).status, 401);
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[0].url, '/api/v1/namespaces/ns1/pods');
    assert.equal(fake.requests[0].user, undefined);
  });

  it('impersonates for the SA: groups repeated, extras recorded, system:authenticated added', async () => {
    const r = await call(fake, 'GET', '/api/v1/namespaces/ns1/pods', {
      headers: { 'Impersonate-User': 'alice', 'Impersonate-Group': ['dev', 'ops'], 'Impersonate-Extra-Bcs-Cluster': 'c1' },
    });
    assert.equal(r.status, 403);
    assert.equal(r.json.message, 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "ns1"');
    assert.deepEqual(r.json.details, { group: '', kind: 'pods' });
    const rec = fake.requests[0];
    assert.deepEqual(rec.header('impersonate-group'), ['dev', 'ops']);
    assert.equal(rec.rawHeaders.filter((h) => h === 'Impersonate-Group').length, 2);
    assert.deepEqual(rec.user, { username: 'alice', groups: ['dev', 'ops', 'system:authenticated'], uid: undefined, extra: { 'bcs-cluster': ['c1'] } });

    fake.grant({ group: 'ops' }, [{ verbs: ['list'], apiGroups: [''], resources: ['pods'] }], 'ns1');
    const ok = await call(fake, 'GET', '/api/v1/namespaces/ns1/pods', { headers: { 'Impersonate-User': 'alice', 'Impersonate-Group': 'ops' } });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json.items.map((p: { metadata: { name: string } }) => p.metadata.name), ['web-1']);
    // Without impersonation the SA itself acts, as cluster-admin.
    assert.equal((await call(fake, 'DELETE', '/api/v1/namespaces/ns1/configmaps/none')).status, 404);
  });

  it('lets only the SA impersonate', async () => {
    fake.addToken('bob-token', { username: 'bob' });
    const r = await call(fake, 'GET', '/api/v1/namespaces/ns1/pods', { token: 'bob-token', headers: { 'Impersonate-User': 'system:admin' } });
    assert.equal(r.status, 403);
    assert.equal(r.json.message, 'users "system:admin" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope');
  });

  it('authorises from RBAC objects created through the API, with label selectors on list', async () => {
    const g = '/apis/rbac.authorization.k8s.io/v1';
    const labels = { 'bcs.tencent.com/managed': 'true' };
    const role = await call(fake, 'POST', `${g}/clusterroles`, {
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'cm-reader', labels }, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['configmaps'] }] },
    });
    assert.equal(role.status, 201, role.text);
    assert.equal((await call(fake, 'POST', `${g}/clusterroles`, { body: { metadata: { name: 'cm-reader' }, rules: [] } })).json.reason, 'AlreadyExists');
    const asCarol = { 'Impersonate-User': 'carol' };
    assert.equal((await call(fake, 'GET', '/api/v1/namespaces/ns1/configmaps', { headers: asCarol })).status, 403);
    const binding = await call(fake, 'POST', `${g}/namespaces/ns1/rolebindings`, {
      body: { metadata: { name: 'carol-cm', labels }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cm-reader' }, subjects: [{ kind: 'User', name: 'carol' }] },
    });
    assert.equal(binding.status, 201, binding.text);
    assert.equal((await call(fake, 'GET', '/api/v1/namespaces/ns1/configmaps', { headers: asCarol })).status, 200);
    assert.equal((await call(fake, 'GET', '/api/v1/namespaces/default/configmaps', { headers: asCarol })).status, 403);

    const listed = await call(fake, 'GET', `${g}/clusterroles?labelSelector=${encodeURIComponent('bcs.tencent.com/managed=true')}`);
    assert.deepEqual(listed.json.items.map((r: { metadata: { name: string } }) => r.metadata.name), ['cm-reader']);
    const current = (await call(fake, 'GET', `${g}/clusterroles/cm-reader`)).json;
    current.rules[0].verbs = ['get'];
    assert.equal((await call(fake, 'PUT', `${g}/clusterroles/cm-reader`, { body: current })).status, 200);
    assert.equal((await call(fake, 'PUT', `${g}/clusterroles/cm-reader`, { body: current })).json.reason, 'Conflict');
    assert.equal((await call(fake, 'GET', '/api/v1/namespaces/ns1/configmaps', { headers: asCarol })).status, 403);
    assert.equal((await call(fake, 'DELETE', `${g}/namespaces/ns1/rolebindings/carol-cm`)).status, 200);
    assert.equal((await call(fake, 'GET', `${g}/namespaces/ns1/rolebindings/carol-cm`)).status, 404);
  });

  it('watch streams events as they happen and the open-stream count drops when the client leaves', async () => {
    const list = await call(fake, 'GET', '/api/v1/namespaces/ns1/configmaps');
    const events: { type: string; object: { metadata: { name: string } } }[] = [];
    const req = https.get({
      host: '127.0.0.1',
      port: fake.port,
      path: `/api/v1/namespaces/ns1/configmaps?watch=1&resourceVersion=${list.json.metadata.resourceVersion}`,
      ca: fake.caPem,
      servername: 'kubernetes',
      headers: { Authorization: `Bearer ${fake.token}` },
    });
    const res = await new Promise<import('node:http').IncomingMessage>((r) => req.on('response', r));
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    let buf = '';
    res.on('data', (d) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        events.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    res.on('error', () => {});
    assert.equal(fake.streams.watch, 1);
    fake.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1', namespace: 'ns1' }, data: { a: '1' } });
    await fake.waitFor(() => events.length === 1, 1000, 'ADDED');
    fake.emit('MODIFIED', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1', namespace: 'ns1' }, data: { a: '2' } });
    fake.emit('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old', reason: 'Expired', code: 410 }, { resource: 'configmaps' });
    await fake.waitFor(() => events.length === 3, 1000, 'MODIFIED and ERROR');
    assert.deepEqual(events.map((e) => e.type), ['ADDED', 'MODIFIED', 'ERROR']);
    req.destroy();
    await fake.waitFor(() => fake.streams.watch === 0, 1000, 'the watch to close');
  });

  it('exec over WebSocket picks v5, echoes 1 MiB through cat and ends stdin on the CLOSE frame', async () => {
    const ws = execSocket(fake, '/api/v1/namespaces/ns1/pods/web-1/exec?command=cat&stdin=true&stdout=true&stderr=true', ['v4.channel.k8s.io', 'v5.channel.k8s.io']);
    await new Promise((r, j) => (ws.on('open', r), ws.on('error', j)));
    assert.equal(ws.protocol, 'v5.channel.k8s.io');
    const payload = randomBytes(1024 * 1024);
    const out: Buffer[] = [];
    let status: unknown;
    ws.on('message', (m: Buffer) => {
      if (m[0] === 1) out.push(m.subarray(1));
      if (m[0] === 3) status = JSON.parse(m.subarray(1).toString());
    });
    const closed = new Promise((r) => ws.on('close', r));
    for (let i = 0; i < payload.length; i += 64 * 1024) ws.send(Buffer.concat([Buffer.from([0]), payload.subarray(i, i + 64 * 1024)]));
    ws.send(Buffer.from([255, 0]));
    await closed;
    assert.ok(Buffer.concat(out).equals(payload));
    assert.deepEqual(status, { metadata: {}, status: 'Success' });
    await fake.waitFor(() => fake.streams.exec === 0, 1000, 'exec stream to close');
  });

  it('exec over WebSocket v4 reports a non-zero exit as NonZeroExitCode', async () => {
    const ws = execSocket(fake, '/api/v1/namespaces/ns1/pods/web-1/exec?command=false&stdout=true', ['v4.channel.k8s.io']);
    const msgs: Buffer[] = [];
    ws.on('message', (m: Buffer) => msgs.push(m));
    await new Promise((r) => ws.on('close', r));
    assert.equal(ws.protocol, 'v4.channel.k8s.io');
    const st = JSON.parse(msgs.find((m) => m[0] === 3)!.subarray(1).toString());
    assert.equal(st.reason, 'NonZeroExitCode');
    assert.deepEqual(st.details.causes, [{ reason: 'ExitCode', message: '1' }]);
  });

  it('authorises a WebSocket exec as create on pods/exec', async () => {
    fake.grant({ user: 'viewer' }, [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'pods/exec'] }], 'ns1');
    const ws = execSocket(fake, '/api/v1/namespaces/ns1/pods/web-1/exec?command=echo&stdout=true', ['v5.channel.k8s.io'], { 'Impersonate-User': 'viewer' });
    const res = await new Promise<import('node:http').IncomingMessage>((r) => ws.on('unexpected-response', (_q, resp) => r(resp)));
    assert.equal(res.statusCode, 403);
    let body = '';
    for await (const c of res) body += c;
    assert.match(JSON.parse(body).message, /User "viewer" cannot create resource "pods\/exec"/);
  });

  it('SPDY exec in raw mode: 101 with the negotiated version, then raw byte echo', async () => {
    fake.spdyMode = 'raw';
    const req =
      'POST /api/v1/namespaces/ns1/pods/web-1/exec?command=sh&stdin=true HTTP/1.1\r\nHost: kubernetes\r\n' +
      `Authorization: Bearer ${fake.token}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n` +
      'X-Stream-Protocol-Version: v5.channel.k8s.io\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: channel.k8s.io\r\nContent-Length: 0\r\n\r\n';
    const out = await raw(fake, Buffer.concat([Buffer.from(req), Buffer.from('spliced-bytes')])).finally(() => (fake.spdyMode = 'spdy'));
    assert.match(out, /^HTTP\/1\.1 101 /);
    assert.match(out, /\r\nX-Stream-Protocol-Version: v4\.channel\.k8s\.io\r\n/);
    assert.ok(out.endsWith('\r\n\r\nspliced-bytes'), out);
  });

  it('refuses upgrades with 403 and keep-alive, serving a pipelined request on the same connection', async () => {
    fake.refuseUpgrades();
    const upgrade =
      'GET /api/v1/namespaces/ns1/pods/web-1/exec?command=echo HTTP/1.1\r\nHost: kubernetes\r\n' +
      `Authorization: Bearer ${fake.token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n';
    const pipelined = `GET /version?second HTTP/1.1\r\nHost: kubernetes\r\nAuthorization: Bearer ${fake.token}\r\n\r\n`;
    const out = await raw(fake, upgrade + pipelined);
    assert.match(out, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(out, /Connection: keep-alive/);
    assert.match(out, /"reason":"Forbidden"/);
    assert.match(out, /HTTP\/1\.1 200 OK[\s\S]*"gitVersion"/);
    assert.deepEqual(fake.requests.map((r) => r.url), ['/api/v1/namespaces/ns1/pods/web-1/exec?command=echo', '/version?second']);
  });

  it('can answer an upgrade with 302 or 200 instead of 101', async () => {
    fake.refuseUpgrades({ code: 302, headers: { Location: 'https://evil.example/' }, body: '', times: 1 });
    fake.refuseUpgrades({ code: 200, body: 'not an upgrade', times: 1 });
    const ws1 = execSocket(fake, '/api/v1/namespaces/ns1/pods/web-1/exec?command=echo', ['v5.channel.k8s.io']);
    const r1 = await new Promise<import('node:http').IncomingMessage>((r) => ws1.on('unexpected-response', (_q, resp) => r(resp)));
    assert.equal(r1.statusCode, 302);
    assert.equal(r1.headers.location, 'https://evil.example/');
    r1.destroy();
    const ws2 = execSocket(fake, '/api/v1/namespaces/ns1/pods/web-1/exec?command=echo', ['v5.channel.k8s.io']);
    const r2 = await new Promise<import('node:http').IncomingMessage>((r) => ws2.on('unexpected-response', (_q, resp) => r(resp)));
    assert.equal(r2.statusCode, 200);
    r2.destroy();
  });

  it('delays, resets mid-body and returns a chosen Status for a path', async () => {
    fake.delayResponses(300, { path: '/version' });
    const t0 = Date.now();
    assert.equal((await call(fake, 'GET', '/version')).status, 200);
    assert.ok(Date.now() - t0 >= 290);
    fake.faults.clear();

    fake.resetMidBody({ path: '/api/v1/namespaces/ns1/pods' });
    await assert.rejects(call(fake, 'GET', '/api/v1/namespaces/ns1/pods'), /aborted|socket hang up|ECONNRESET/);

    fake.statusFor({ path: /\/configmaps/ }, 409, 'configmaps "x" already exists', 'AlreadyExists');
    const r = await call(fake, 'GET', '/api/v1/namespaces/ns1/configmaps');
    assert.equal(r.status, 409);
    assert.equal(r.json.message, 'configmaps "x" already exists');
  });

  it('SelfSubjectAccessReview is evaluated for the impersonated user', async () => {
    fake.grant({ user: 'dana' }, [{ verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['web-1'] }], 'ns1');
    const review = (ra: Record<string, string>) =>
      call(fake, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        headers: { 'Impersonate-User': 'dana' },
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: ra } },
      });
    assert.equal((await review({ namespace: 'ns1', verb: 'get', resource: 'pods', name: 'web-1' })).json.status.allowed, true);
    assert.equal((await review({ namespace: 'ns1', verb: 'get', resource: 'pods', name: 'web-2' })).json.status.allowed, false);
    assert.equal((await review({ namespace: 'ns1', verb: 'list', resource: 'pods' })).json.status.allowed, false);
  });
});
