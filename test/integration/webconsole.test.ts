import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { createProxy, type ProxySurfaces } from '../../proxy';
import { authenticate } from '../../src/domain/auth';
import { createCluster } from '../../src/domain/clusters';
import { createGrant } from '../../src/domain/rbac-grants';
import { issueToken, revokeToken } from '../../src/domain/tokens';
import { createUser, findUserByName } from '../../src/domain/users';
import { requestListener, upgradeListener } from '../../src/http/server';
import { createRegistry } from '../../src/metrics';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { waitFor } from '../helpers/wait';

const CLUSTER = 'BCS-MESOS-30001';

/** A console proxy on loopback: echoes frames, closes with 4001 on request, serves plain HTTP; counts every TCP connection. */
async function fakeConsole(): Promise<{ server: http.Server; port: number; dials: () => number; upgrades: http.IncomingMessage[]; requests: { url: string; headers: http.IncomingHttpHeaders; body: string }[]; closes: { code: number; reason: string }[] }> {
  let dials = 0;
  const upgrades: http.IncomingMessage[] = [];
  const requests: { url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const closes: { code: number; reason: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push({ url: req.url!, headers: req.headers, body });
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'text/html', 'x-console': 'yes' });
      res.end(req.method === 'POST' ? `created ${body}` : '<html>console</html>');
    });
  });
  const wss = new WebSocketServer({ server, handleProtocols: (offered) => (offered.has('console.v2') ? 'console.v2' : false) });
  wss.on('headers', (headers) => headers.push('Set-Cookie: console_session=abc; Path=/'));
  wss.on('connection', (ws, req) => {
    upgrades.push(req);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary && data.toString() === 'close-4001') return ws.close(4001, 'console ended');
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
  });
  server.on('connection', () => (dials += 1));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, dials: () => dials, upgrades, requests, closes };
}

for (const dialect of DIALECTS) {
  describe(`Mesos web console (${dialect})`, () => {
    let t: TestRuntime;
    let surfaces: ProxySurfaces;
    let gateway: http.Server;
    let base: string;
    let fake: Awaited<ReturnType<typeof fakeConsole>>;
    let alice: string;
    let viewer: string;
    let admin: string;

    before(async () => {
      fake = await fakeConsole();
      t = await startTestRuntime(dialect, { consoleProxyPort: fake.port, webconsole: { allowedNetworks: ['127.0.0.1/32'] } });
      const ctx = t.rt.context();
      admin = (await issueToken(ctx, undefined, await createUser(ctx, undefined, { name: 'root', isSuperUser: true }), {})).secret;
      alice = (await issueToken(ctx, undefined, await createUser(ctx, undefined, { name: 'alice' }), {})).secret;
      viewer = (await issueToken(ctx, undefined, await createUser(ctx, undefined, { name: 'vera' }), {})).secret;
      const actor = await authenticate(t.rt.context().em, admin, new Date());
      await createCluster(t.rt.context(), undefined, { id: CLUSTER, clusterType: 'mesos' });
      await createGrant(t.rt.context(), actor, { subjectKind: 'User', subjectName: 'alice', clusterId: CLUSTER, scope: 'cluster', template: 'workloads-manage' });
      await createGrant(t.rt.context(), actor, { subjectKind: 'User', subjectName: 'vera', clusterId: CLUSTER, scope: 'cluster', template: 'cluster-readonly' });
      await createGrant(t.rt.context(), actor, { subjectKind: 'User', subjectName: 'vera', clusterId: CLUSTER, scope: 'namespace', namespace: 'ns1', template: 'cluster-manage' });
      surfaces = await createProxy(t.rt, createRegistry());
      gateway = http.createServer(requestListener(surfaces.mounts, t.rt.logger, false));
      gateway.on('upgrade', upgradeListener(surfaces.mounts, t.rt.logger, false));
      await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
      base = `127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    });
    after(async () => {
      gateway?.close();
      fake?.server.close();
      await surfaces?.stop();
      await t?.stop();
    });
    beforeEach(() => {
      fake.requests.length = 0;
      fake.upgrades.length = 0;
      fake.closes.length = 0;
    });

    const path = (query: string) => `/bcsapi/v1/webconsole/start_exec?${query}`;
    const open = (query: string, headers: Record<string, string>, protocols: string[] = ['console.v2', 'other']) => new WebSocket(`ws://${base}${path(query)}`, protocols, { headers });
    const opened = (ws: WebSocket) =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        ws.once('upgrade', resolve);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
        ws.once('error', reject);
      });
    const refusedUpgrade = (ws: WebSocket) =>
      new Promise<{ status: number; body: { code: number; message: string } }>((resolve, reject) => {
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
        });
        ws.once('open', () => reject(new Error('the upgrade was accepted')));
        ws.on('error', () => undefined);
      });

    it('relays frames both ways, text and binary kept, and the console closing with 4001 reaches the client', async () => {
      const ws = open('host_ip=127.0.0.1&x=1', { authorization: `Bearer ${alice}`, 'BCS-ClusterID': CLUSTER, cookie: 'bk_session=s1', origin: 'https://bcs.example' });
      const res = await opened(ws);
      assert.equal(ws.protocol, 'console.v2', "the console's chosen subprotocol");
      assert.match(String(res.headers['set-cookie']), /console_session=abc/);
      const seen = fake.upgrades[0]!;
      assert.equal(seen.url, '/bcsapi/v1/consoleproxy/start_exec?host_ip=127.0.0.1&x=1');
      assert.equal(seen.headers.cookie, 'bk_session=s1');
      assert.equal(seen.headers.origin, 'https://bcs.example');
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');

      const messages: { data: string; binary: boolean }[] = [];
      ws.on('message', (data: Buffer, binary: boolean) => messages.push({ data: data.toString('hex'), binary }));
      ws.send('ls -l');
      ws.send(Buffer.from([0, 1, 2, 255]));
      await waitFor('both echoes', () => messages.length === 2);
      assert.deepEqual(messages, [
        { data: Buffer.from('ls -l').toString('hex'), binary: false },
        { data: '000102ff', binary: true },
      ]);
      const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
      ws.send('close-4001');
      assert.deepEqual(await closed, { code: 4001, reason: 'console ended' });
    });

    it('passes the client closing with its code to the console', async () => {
      const ws = open('host_ip=127.0.0.1', { 'X-Bcs-User-Token': admin, 'BCS-ClusterID': CLUSTER });
      await opened(ws);
      ws.close(4002, 'user left');
      await waitFor('the console to see the close', () => fake.closes.length === 1);
      assert.deepEqual(fake.closes[0], { code: 4002, reason: 'user left' });
    });

    it("ends an open console session when its token is revoked", async () => {
      const issued = await issueToken(t.rt.context(), undefined, (await findUserByName(t.rt.context(), 'alice'))!, {});
      const ws = open('host_ip=127.0.0.1', { authorization: `Bearer ${issued.secret}`, 'BCS-ClusterID': CLUSTER });
      await opened(ws);
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      await revokeToken(t.rt.context(), await authenticate(t.rt.context().em, admin, new Date()), issued.token.id);
      assert.equal(await closed, 1008);
      await waitFor('the console side to close', () => fake.closes.length === 1);
    });

    it('proxies plain HTTP on the same route, the cluster in the cluster_id parameter', async () => {
      const get = await fetch(`http://${base}${path(`host_ip=127.0.0.1&cluster_id=${CLUSTER}`)}`, { headers: { authorization: `Bearer ${alice}`, 'Impersonate-User': 'root' } });
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('x-console'), 'yes');
      assert.equal(await get.text(), '<html>console</html>');
      const post = await fetch(`http://${base}/bcsapi/v1/webconsole/create?host_ip=127.0.0.1`, { method: 'POST', body: 'sh', headers: { authorization: `Bearer ${alice}`, 'BCS-ClusterID': CLUSTER } });
      assert.equal(post.status, 201);
      assert.equal(await post.text(), 'created sh');
      assert.deepEqual(fake.requests.map((r) => r.url), [`/bcsapi/v1/consoleproxy/start_exec?host_ip=127.0.0.1&cluster_id=${CLUSTER}`, '/bcsapi/v1/consoleproxy/create?host_ip=127.0.0.1']);
      for (const r of fake.requests) assert.equal(r.headers.authorization ?? r.headers['impersonate-user'], undefined);
    });

    it('refuses bad host_ip values, a missing cluster, no token and a viewer before dialling anything', async () => {
      const dialsBefore = fake.dials();
      const headers = { authorization: `Bearer ${alice}`, 'BCS-ClusterID': CLUSTER };
      const cases: [string, Record<string, string>, number, number, RegExp][] = [
        ['host_ip=10.0.0.1', headers, 403, 1405064, /10\.0\.0\.1 is outside webconsole.allowed_networks/],
        ['host_ip=127.0.0.2', headers, 403, 1405064, /in 127\.0\.0\.0\/8/],
        ['host_ip=169.254.1.1', headers, 403, 1405064, /outside/],
        ['host_ip=169.254.169.254', headers, 403, 1405064, /outside/],
        ['host_ip=localhost', headers, 400, 1405007, /must be an IP address, not a host name/],
        ['host_ip=127.0.0.1.nip.io', headers, 400, 1405007, /not a host name/],
        ['x=1', headers, 400, 1405007, /host_ip query parameter is required/],
        ['host_ip=127.0.0.1', { authorization: `Bearer ${alice}` }, 400, 1405007, /BCS-ClusterID header or the cluster_id query parameter/],
        ['host_ip=127.0.0.1', { 'BCS-ClusterID': CLUSTER }, 401, 1405059, /Unauthorized/],
        ['host_ip=127.0.0.1', { authorization: `Bearer ${viewer}`, 'BCS-ClusterID': CLUSTER }, 403, 1405058, /vera needs a cluster-wide grant whose template allows pods\/exec/],
        ['host_ip=127.0.0.1', { authorization: `Bearer ${alice}`, 'BCS-ClusterID': 'BCS-MESOS-OTHER' }, 403, 1405058, /alice needs/],
      ];
      for (const [query, h, status, code, message] of cases) {
        const ws = await refusedUpgrade(open(query, h));
        assert.equal(ws.status, status, `ws ${query}`);
        assert.equal(ws.body.code, code, `ws ${query}`);
        assert.match(ws.body.message, message, `ws ${query}`);
        const res = await fetch(`http://${base}${path(query)}`, { headers: h });
        assert.equal(res.status, status, `http ${query}`);
        assert.match(((await res.json()) as { message: string }).message, message);
      }
      assert.equal(fake.dials(), dialsBefore, 'the console proxy saw no connection');
      assert.equal(fake.requests.length + fake.upgrades.length, 0);
    });

    it("counts console requests under the original's metric type", async () => {
      const registry = createRegistry();
      const own = await createProxy(t.rt, registry);
      const server = http.createServer(requestListener(own.mounts, t.rt.logger, false));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const port = (server.address() as AddressInfo).port;
        assert.equal((await fetch(`http://127.0.0.1:${port}${path('host_ip=127.0.0.1')}`, { headers: { 'X-Bcs-User-Token': alice, 'BCS-ClusterID': CLUSTER } })).status, 200);
        const text = await registry.metrics();
        assert.match(text, /bcs_api_request_count_total\{type="mesos_webconsole",method="GET"\} 1/);
      } finally {
        server.close();
        await own.stop();
      }
    });
  });
}
