import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startApp, type App } from '../../src/app';
import { sha256Hex } from '../../src/crypto/tokens';
import { issueToken, revokeToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { createLogger } from '../../src/log';
import { startRuntime } from '../../src/runtime';
import { ApiToken, User } from '../../src/store/entities';
import { tempDir, testConfig } from '../helpers/app';
import { createTestDatabase } from '../helpers/db';
import { startFakeKube, type FakeKube, type RecordedRequest } from '../helpers/fake-kube';
import { identitySeen } from '../helpers/identity-headers';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { credsOf, registerCluster } from '../helpers/clusters';

// ---- raw HTTP over a plain TCP socket: exact header case, order and duplicates, pipelining ------------

interface RawResponse {
  status: number;
  head: string;
  /** Lower-case name → every value, in order. */
  headers: Record<string, string[]>;
  body: Buffer;
  text: string;
  // Kubernetes Status bodies are read field by field.
  json: any;
}

/** One complete HTTP/1.1 response at the start of `buf`, or undefined while incomplete. */
function parseResponse(buf: Buffer, closed: boolean): { res: RawResponse; rest: Buffer } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1');
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: Record<string, string[]> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    (headers[l.slice(0, i).trim().toLowerCase()] ??= []).push(l.slice(i + 1).trim());
  }
  let rest = buf.subarray(end + 4);
  let body: Buffer;
  if (status === 101 || status === 204 || status === 304) body = Buffer.alloc(0);
  else if (headers['content-length']) {
    const n = Number(headers['content-length'][0]);
    if (rest.length < n) return undefined;
    body = rest.subarray(0, n);
    rest = rest.subarray(n);
  } else if ((headers['transfer-encoding']?.[0] ?? '').toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16);
      if (rest.length < eol + 2 + size + 2) return undefined;
      if (size === 0) {
        at = eol + 4;
        break;
      }
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
    rest = rest.subarray(at);
  } else {
    if (!closed) return undefined;
    body = rest;
    rest = Buffer.alloc(0);
  }
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { res: { status, head, headers, body, text, json }, rest };
}

interface Conversation {
  socket: net.Socket;
  /** Everything received so far. */
  received(): Buffer;
  closed: Promise<void>;
  isClosed(): boolean;
  /** Resolves with the first complete response. */
  response(timeoutMs?: number): Promise<RawResponse>;
}

function open(port: number, data?: string | Buffer): Conversation {
  const socket = net.connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let isClosed = false;
  const waiters = new Set<() => void>();
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (const w of waiters) w();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      for (const w of waiters) w();
      resolve();
    }),
  );
  if (data !== undefined) socket.write(data);
  return {
    socket,
    received: () => buf,
    closed,
    isClosed: () => isClosed,
    response: (timeoutMs = 5000) =>
      new Promise<RawResponse>((resolve, reject) => {
        const check = (): void => {
          const r = parseResponse(buf, isClosed);
          if (r) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(r.res);
          } else if (isClosed) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`connection closed without a complete response: ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no complete response within ${timeoutMs} ms: ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}

/** Header lines as [name, value] pairs, written exactly as given. */
type Lines = [string, string][];

function requestText(method: string, target: string, lines: Lines, body = ''): string {
  return `${method} ${target} HTTP/1.1\r\nHost: gateway.test\r\n${lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n${body}`;
}

function portOf(env: GatewayEnv): number {
  return Number(new URL(env.tunnelUrl('/')).port);
}

function tunnelTarget(env: GatewayEnv, path: string): string {
  return new URL(env.tunnelUrl(path)).pathname + new URL(env.tunnelUrl(path)).search;
}

async function send(env: GatewayEnv, method: string, path: string, lines: Lines, body = ''): Promise<RawResponse> {
  const c = open(portOf(env), requestText(method, tunnelTarget(env, path), lines, body));
  try {
    return await c.response();
  } finally {
    c.socket.destroy();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


function onlyRequest(fake: FakeKube, marker: string): RecordedRequest {
  const recs = fake.requests.filter((r) => r.url.includes(marker));
  assert.equal(recs.length, 1, `the fake saw ${recs.length} requests for ${marker}`);
  return recs[0]!;
}

async function tokenId(env: GatewayEnv, secret: string): Promise<number> {
  return (await env.gw.app.runtime.orm.em.fork().findOneOrFail(ApiToken, { digest: sha256Hex(secret) })).id;
}

/** Header lines a hostile client adds around its own valid token (no Impersonate-*: that is refused outright). */
function smugglingCorpus(gatewayToken: string, saToken: string): Lines {
  return [
    ['Connection', 'keep-alive, Impersonate-User, Authorization, X-Hop-Only, Impersonate-Extra-x'],
    ['Keep-Alive', 'timeout=5'],
    ['X-Hop-Only', 'secret-for-this-hop'],
    ['Authorization', `Bearer ${gatewayToken}`],
    // A second Authorization line is refused by the listener (400, test/integration/header-rules-*.test.ts);
    // the cluster token rides in headers the gateway must strip instead.
    ['X-Remote-Token', `Bearer ${saToken}`],
    ['Cookie', `token=${saToken}`],
    ['X-Remote-User', 'admin'],
    ['x-remote-group', 'system:masters'],
    ['X-REMOTE-EXTRA-Scopes', 'everything'],
    ['X_Remote_User', 'admin'],
    ['X-Forwarded-For', '6.6.6.6'],
    ['x-forwarded-for', '7.7.7.7, 8.8.8.8'],
    ['X-Forwarded-Host', 'evil.example'],
    ['X-Forwarded-Proto', 'http'],
    ['Forwarded', 'for=6.6.6.6;proto=http;by=evil'],
    ['X-Real-Ip', '6.6.6.6'],
    ['Cookie', 'session=abc'],
    ['Audit-ID', 'attacker-chosen-audit-id'],
    ['audit-id', 'second-attacker-audit-id'],
    ['Proxy-Authorization', 'Basic eDp5'],
    ['Accept', 'application/json'],
  ];
}

describe('tunnel proxy security (SQLite)', () => {
  let env: GatewayEnv;
  let fake2: FakeKube;
  let aliceTokenId: number;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('ns1', 'web-1');
    aliceTokenId = await tokenId(env, env.alice.token);
    // A second cluster whose own fake records any request that escapes to it.
    fake2 = await startFakeKube();
    await registerCluster(() => env.gw.app.runtime.context(), 'BCS-K8S-40002', credsOf(fake2));
  });
  after(async () => {
    await env?.stop();
    await fake2?.stop();
  });

  it('sends exactly the gateway identity for a normal user, whatever identity headers the client smuggles', async () => {
    const res = await send(env, 'GET', '/version?probe=alice-corpus', smugglingCorpus(env.alice.token, env.fake.token));
    assert.equal(res.status, 200, res.text);
    const rec = onlyRequest(env.fake, 'probe=alice-corpus');
    assert.deepEqual(identitySeen(rec), {
      'impersonate-user': ['plain.alice'],
      'impersonate-group': ['dev'],
      'impersonate-extra-bcs.tencent.com%2fgateway-user-id': [String(env.alice.id)],
      'impersonate-extra-bcs.tencent.com%2fgateway-token-id': [String(aliceTokenId)],
      authorization: [`Bearer ${env.fake.token}`],
      'x-forwarded-for': ['127.0.0.1'],
      'audit-id': [res.headers['x-request-id']![0]!],
    });
    assert.equal(rec.user?.username, 'plain.alice', 'the fake ran the request as alice');
    assert.deepEqual(rec.header('x-hop-only'), [], 'a header named in Connection is not forwarded');
    assert.deepEqual(rec.header('keep-alive'), []);
    for (const v of rec.header('connection')) assert.doesNotMatch(v, /impersonate|authorization|x-hop-only/i, 'the client Connection list is not forwarded');
    assert.equal(res.headers['audit-id']?.[0], res.headers['x-request-id']![0], 'the apiserver echoes the gateway request id as Audit-Id');
  });

  it('sends no Impersonate-* at all for a super user smuggling the same corpus', async () => {
    const res = await send(env, 'GET', '/version?probe=admin-corpus', smugglingCorpus(env.gw.adminToken, env.fake.token));
    assert.equal(res.status, 200, res.text);
    const rec = onlyRequest(env.fake, 'probe=admin-corpus');
    assert.deepEqual(identitySeen(rec), {
      authorization: [`Bearer ${env.fake.token}`],
      'x-forwarded-for': ['127.0.0.1'],
      'audit-id': [res.headers['x-request-id']![0]!],
    });
    assert.equal(rec.user?.username, env.fake.saUsername);
  });

  it("passes a super user's own --as on, one line per group, and nothing else", async () => {
    const res = await send(env, 'GET', '/version?probe=admin-as', [
      ['Authorization', `Bearer ${env.gw.adminToken}`],
      ['Impersonate-User', 'plain.alice'],
      ['Impersonate-Group', 'dev'],
      ['impersonate-group', 'ops'],
    ]);
    assert.equal(res.status, 200, res.text);
    const seen = identitySeen(onlyRequest(env.fake, 'probe=admin-as'));
    assert.deepEqual(seen['impersonate-user'], ['plain.alice']);
    assert.deepEqual(seen['impersonate-group'], ['dev', 'ops']);
    assert.deepEqual(Object.keys(seen).filter((k) => k.startsWith('impersonate-')).sort(), ['impersonate-group', 'impersonate-user']);
  });

  it("refuses a normal user's own impersonation in every spelling with a 403 Status, and nothing reaches the cluster", async () => {
    const variants: Lines[] = [
      [['Impersonate-User', 'system:admin']],
      [['iMpErSoNaTe-gRoUp', 'system:masters']],
      [['Impersonate_Group', 'system:masters']],
      [['Impersonate-Group', 'dev, system:masters']],
      [['Impersonate-Group', 'dev'], ['Impersonate-Group', 'system:masters']],
      [['IMPERSONATE-UID', '0']],
      [['Impersonate-Extra-Scopes', 'x']],
      [['impersonate-extra-bcs.tencent.com%2fgateway-user-id', '1']],
      [['Connection', 'Impersonate-User'], ['Impersonate-User', 'system:admin']],
      [['Impersonate-User', ' plain.alice']],
    ];
    for (const [i, v] of variants.entries()) {
      env.fake.clearRequests();
      const res = await send(env, 'GET', `/api/v1/namespaces/default/pods?probe=imp-${i}`, [['Authorization', `Bearer ${env.alice.token}`], ...v]);
      assert.equal(res.status, 403, `${JSON.stringify(v)}: ${res.text}`);
      assert.equal(res.json?.kind, 'Status');
      assert.equal(res.json?.reason, 'Forbidden');
      assert.match(res.json?.message, /users "plain\.alice" is forbidden: only gateway super users may impersonate/);
      assert.equal(env.fake.requests.length, 0, `${JSON.stringify(v)} reached the cluster`);
    }
  });

  it('never authenticates with the cluster service-account token: no gateway token → 401, nothing upstream', async () => {
    env.fake.clearRequests();
    const res = await send(env, 'GET', '/api/v1/namespaces/kube-system/secrets', [['Authorization', `Bearer ${env.fake.token}`]]);
    assert.equal(res.status, 401);
    assert.equal(res.json?.reason, 'Unauthorized');
    const none = await send(env, 'GET', '/api/v1/namespaces/kube-system/secrets', []);
    assert.equal(none.status, 401);
    assert.equal(env.fake.requests.length, 0);
  });

  it('closes both sides when the apiserver refuses an upgrade with keep-alive; a pipelined request never reaches it (CVE-2018-1002105)', async () => {
    const remove = env.fake.refuseUpgrades({ code: 403, keepAlive: true });
    try {
      env.fake.clearRequests();
      const upgrade = requestText('GET', tunnelTarget(env, '/api/v1/namespaces/ns1/pods/web-1/exec?command=echo&command=hi&stdout=true'), [
        ['Authorization', `Bearer ${env.gw.adminToken}`],
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
        ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
        ['Sec-WebSocket-Version', '13'],
        ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io, v4.channel.k8s.io'],
      ]);
      // Upstream-shaped, carrying the cluster token: what would run with the gateway's authority if relayed.
      const smuggled = requestText('GET', '/api/v1/namespaces/kube-system/secrets?smuggled=1', [['Authorization', `Bearer ${env.fake.token}`]]);
      const c = open(portOf(env), upgrade + smuggled);
      const res = await c.response();
      assert.equal(res.status, 403);
      assert.equal(res.json?.message, 'upgrade refused by fake-kube');
      await Promise.race([c.closed, sleep(3000).then(() => assert.fail('the gateway kept the client connection open after a refused upgrade'))]);
      assert.equal(c.received().toString('latin1').split('HTTP/1.1 ').length - 1, 1, 'exactly one response on the connection');
      await sleep(300);
      assert.equal(env.fake.requests.filter((r) => r.url.includes('smuggled')).length, 0, 'the pipelined request reached the apiserver');
      assert.equal(env.fake.requests.length, 1, 'only the upgrade itself reached the apiserver');
      assert.equal(env.fake.requests[0]!.upgrade, 'websocket');
      // The gateway's end of the client connection is released too, not left half-open.
      const server = env.gw.app.listening.servers.find((s) => !('cert' in s) && (s.address() as net.AddressInfo).port === portOf(env))!;
      const connections = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
      const deadline = Date.now() + 2000;
      while ((await connections()) > 0 && Date.now() < deadline) await sleep(50);
      assert.equal(await connections(), 0, 'the gateway still holds the refused upgrade connection');
    } finally {
      remove();
    }
  });

  it('refuses Upgrade: h2c with 400 and sends nothing upstream', async () => {
    env.fake.clearRequests();
    const res = await send(env, 'GET', '/api/v1/namespaces/default/pods', [
      ['Authorization', `Bearer ${env.gw.adminToken}`],
      ['Connection', 'Upgrade, HTTP2-Settings'],
      ['Upgrade', 'h2c'],
      ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
    ]);
    assert.equal(res.status, 400);
    assert.equal(res.json?.reason, 'BadRequest');
    assert.match(res.json?.message, /h2c/);
    await sleep(100);
    assert.equal(env.fake.requests.length, 0);
  });

  it('refuses an upgrade that carries a body with 400 and sends nothing upstream', async () => {
    env.fake.clearRequests();
    const c = open(
      portOf(env),
      requestText(
        'POST',
        tunnelTarget(env, '/api/v1/namespaces/ns1/pods/web-1/exec?command=cat&stdin=true&stdout=true'),
        [
          ['Authorization', `Bearer ${env.gw.adminToken}`],
          ['Connection', 'Upgrade'],
          ['Upgrade', 'SPDY/3.1'],
          ['X-Stream-Protocol-Version', 'v4.channel.k8s.io'],
          ['Content-Length', '5'],
        ],
        'hello',
      ),
    );
    const res = await c.response();
    c.socket.destroy();
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json?.reason, 'BadRequest');
    await sleep(100);
    assert.equal(env.fake.requests.length, 0);
  });

  it('relays a SPDY upgrade: repeated X-Stream-Protocol-Version lines kept apart, 101, bytes intact both ways', async () => {
    env.fake.spdyMode = 'raw';
    try {
      env.fake.clearRequests();
      const c = open(
        portOf(env),
        requestText('POST', tunnelTarget(env, '/api/v1/namespaces/ns1/pods/web-1/exec?command=cat&stdin=true&stdout=true'), [
          ['Authorization', `Bearer ${env.gw.adminToken}`],
          ['Connection', 'Upgrade'],
          ['Upgrade', 'SPDY/3.1'],
          ['X-Stream-Protocol-Version', 'v4.channel.k8s.io'],
          ['X-Stream-Protocol-Version', 'v3.channel.k8s.io'],
        ]),
      );
      const res = await c.response();
      assert.equal(res.status, 101);
      assert.deepEqual(res.headers['x-stream-protocol-version'], ['v4.channel.k8s.io']);
      const rec = env.fake.requests.find((r) => r.upgrade === 'spdy')!;
      assert.deepEqual(rec.header('x-stream-protocol-version'), ['v4.channel.k8s.io', 'v3.channel.k8s.io']);
      assert.equal(rec.header('impersonate-user').length, 0);

      const headLength = c.received().indexOf('\r\n\r\n') + 4;
      const payload = randomBytes(256 * 1024);
      for (let at = 0; at < payload.length; at += 16 * 1024) c.socket.write(payload.subarray(at, at + 16 * 1024));
      await env.fake.waitFor(() => c.received().length >= headLength + payload.length, 5000, 'the echoed bytes');
      assert.ok(c.received().subarray(headLength).equals(payload), 'echoed bytes differ from those sent');
      c.socket.end();
      await Promise.race([c.closed, sleep(3000).then(() => assert.fail('the relay did not close after the client ended'))]);
    } finally {
      env.fake.spdyMode = 'spdy';
    }
  });

  it('never routes a path trick to another cluster', async () => {
    const auth: Lines = [['Authorization', `Bearer ${env.gw.adminToken}`]];
    const port = portOf(env);
    // Control: the second cluster is reachable directly and its fake records it.
    const direct = await c2(port, '/tunnels/clusters/BCS-K8S-40002/version', auth);
    assert.equal(direct.status, 200, direct.text);
    assert.equal(fake2.requests.length, 1);
    fake2.clearRequests();
    env.fake.clearRequests();

    const tricks = [
      '/tunnels/clusters/BCS-K8S-40001/../BCS-K8S-40002/version',
      '/tunnels/clusters/BCS-K8S-40001/api/../../BCS-K8S-40002/version',
      '/tunnels/clusters/BCS-K8S-40001/%2e%2e/BCS-K8S-40002/version',
      '/tunnels/clusters/BCS-K8S-40001/%2E%2E%2FBCS-K8S-40002/version',
      '/tunnels/clusters/BCS-K8S-40001/..%2fBCS-K8S-40002/version',
      '/tunnels/clusters/BCS-K8S-40001%2f..%2fBCS-K8S-40002/version',
      '/tunnels/clusters/BCS-K8S-40001%2FBCS-K8S-40002/version',
      '/tunnels/clusters/BCS-K8S-40001/..%5cBCS-K8S-40002/version',
      '/tunnels/clusters/BCS-K8S-40001//BCS-K8S-40002/version',
      '/tunnels/clusters//BCS-K8S-40002/version',
      '/tunnels/clusters/./BCS-K8S-40002/version',
      '/tunnels/clusters/BCS-K8S-40002%00/version',
      '//tunnels/clusters/BCS-K8S-40002/version',
      '/tunnels//clusters/BCS-K8S-40002/version',
      '/tunnels/clusters/%42CS-K8S-40002/version',
    ];
    for (const t of tricks) {
      const res = await c2(port, t, auth);
      assert.ok(res.status === 400 || res.status === 404, `${t} → ${res.status} ${res.text}`);
    }
    assert.equal(fake2.requests.length, 0, `reached the other cluster: ${fake2.requests.map((r) => r.url).join(', ')}`);
    assert.equal(env.fake.requests.length, 0, `reached a cluster: ${env.fake.requests.map((r) => r.url).join(', ')}`);
  });

  it('refuses a token revoked through GraphQL within one second', async () => {
    const ctx = env.gw.app.runtime.context();
    const user = await ctx.em.findOneOrFail(User, { id: env.alice.id });
    const issued = await issueToken(ctx, undefined, user, { name: 'to-revoke' });
    const lines: Lines = [['Authorization', `Bearer ${issued.secret}`]];
    assert.equal((await send(env, 'GET', '/version', lines)).status, 200, 'the token works (and is now cached)');
    const r = await env.graphql(env.gw.adminToken, 'mutation($id: Int!) { revokeToken(id: $id) { id } }', { id: issued.token.id });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const elapsed = await pollUntil401(env, lines);
    assert.ok(elapsed < 1000, `still accepted ${elapsed} ms after revocation`);
  });

  it('refuses a token revoked by another process (only the polled change feed can tell) within one second', async () => {
    const ctx = env.gw.app.runtime.context();
    const user = await ctx.em.findOneOrFail(User, { id: env.alice.id });
    const issued = await issueToken(ctx, undefined, user, { name: 'to-revoke-elsewhere' });
    const lines: Lines = [['Authorization', `Bearer ${issued.secret}`]];
    assert.equal((await send(env, 'GET', '/version', lines)).status, 200);
    // A second runtime on the same database: its change bus is its own, so only the feed reaches the gateway.
    const other = await startRuntime(env.gw.app.runtime.config, createLogger('silent'), { migrate: false });
    try {
      const octx = other.context();
      const tok = await octx.em.findOneOrFail(ApiToken, { digest: sha256Hex(issued.secret) }, { populate: ['user'] });
      await revokeToken(octx, { user: tok.user.getEntity(), token: tok }, tok.id);
      const elapsed = await pollUntil401(env, lines);
      assert.ok(elapsed < 1000, `still accepted ${elapsed} ms after revocation in another process`);
    } finally {
      await other.close();
    }
  });
});

/** A raw request with an arbitrary request target (no client-side normalisation). */
async function c2(port: number, target: string, lines: Lines): Promise<RawResponse> {
  const c = open(port, requestText('GET', target, lines));
  try {
    return await c.response();
  } finally {
    c.socket.destroy();
  }
}

/** Polls every 50 ms until the gateway answers 401; returns how long that took (fails after 3 s). */
async function pollUntil401(env: GatewayEnv, lines: Lines): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await send(env, 'GET', '/version', lines);
    if (res.status === 401) return Date.now() - started;
    assert.equal(res.status, 200);
    if (Date.now() - started > 3000) assert.fail('the revoked token was still accepted after 3 s');
    await sleep(50);
  }
}

describe('tunnel proxy logs and audit lines', () => {
  let app: App;
  let fake: FakeKube;
  let dir: string;
  let dropDb: () => Promise<void>;
  const lines: string[] = [];
  const secrets: Record<string, string> = {};
  let port = 0;
  let aliceId = 0;

  before(async () => {
    fake = await startFakeKube();
    fake.addPod('ns1', 'web-1');
    dir = tempDir();
    const db = await createTestDatabase('sqlite', dir);
    dropDb = db.drop;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    const config = testConfig(db, dir, { plain: { address: '127.0.0.1', port: 0 } });
    app = await startApp(config, createLogger('info', sink));
    port = Number(new URL(app.listening.urls[0]!).port);
    const ctx = () => app.runtime.context();
    const { registerToken } = await registerCluster(ctx, 'BCS-K8S-40001', credsOf(fake));
    const alice = await createUser(ctx(), undefined, { name: 'plain:alice', groups: ['dev'] });
    aliceId = alice.id;
    secrets.alice = (await issueToken(ctx(), undefined, alice, {})).secret;
    secrets.admin = app.defaultAdminToken!;
    secrets.sa = fake.token;
    secrets.register = registerToken;
    secrets.bogus = `bogus${randomBytes(20).toString('hex')}`;
  });
  after(async () => {
    await app?.stop();
    await fake?.stop();
    await dropDb?.();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function raw(method: string, target: string, hdrs: Lines, body = ''): Promise<RawResponse> {
    const c = open(port, requestText(method, target, hdrs, body));
    try {
      return await c.response();
    } finally {
      c.socket.destroy();
    }
  }

  it('writes one audit line per request with user, cluster, verb, status, request id and bytes, and never a token', async () => {
    const ok = await raw('GET', '/tunnels/clusters/BCS-K8S-40001/version?access_token=' + secrets.alice, [['Authorization', `Bearer ${secrets.alice}`]]);
    assert.equal(ok.status, 200);
    const requestId = ok.headers['x-request-id']![0]!;
    assert.equal((await raw('GET', '/tunnels/clusters/BCS-K8S-40001/api', [['Authorization', `Bearer ${secrets.admin}`], ['Cookie', `t=${secrets.admin}`]])).status, 200);
    const podBody = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'audited-post', namespace: 'ns1' } });
    const created = await raw('POST', '/tunnels/clusters/BCS-K8S-40001/api/v1/namespaces/ns1/pods', [['Authorization', `Bearer ${secrets.admin}`], ['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(podBody))]], podBody);
    assert.equal(created.status, 201, created.body.toString());
    assert.equal((await raw('GET', '/tunnels/clusters/BCS-K8S-40001/api', [['Authorization', `Bearer ${secrets.bogus}`]])).status, 401);
    assert.equal((await raw('GET', '/tunnels/clusters/BCS-K8S-40001/api', [['Authorization', `Bearer ${secrets.sa}`]])).status, 401);
    assert.equal((await raw('GET', '/tunnels/clusters/BCS-K8S-40001/api', [['Authorization', `Bearer ${secrets.alice}`], ['Impersonate-User', secrets.register]])).status, 403);
    // An upgrade with a token in the WebSocket subprotocol, as client-go sends it in browsers.
    fake.refuseUpgrades({ code: 403, keepAlive: false, times: 1 });
    const ws = await raw('GET', '/tunnels/clusters/BCS-K8S-40001/api/v1/namespaces/ns1/pods/web-1/exec?command=ls&stdout=true', [
      ['Authorization', `Bearer ${secrets.admin}`],
      ['Connection', 'Upgrade'],
      ['Upgrade', 'websocket'],
      ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
      ['Sec-WebSocket-Version', '13'],
      ['Sec-WebSocket-Protocol', `v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.${Buffer.from(secrets.alice).toString('base64url')}`],
    ]);
    assert.equal(ws.status, 403);
    await sleep(200);

    const all = lines.join('\n');
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(!all.includes(secret), `the ${name} token appears in the logs`);
      assert.ok(!all.includes(Buffer.from(secret).toString('base64url')), `the ${name} token appears base64url-encoded in the logs`);
    }
    const audits = lines.map((l) => JSON.parse(l) as { audit?: Record<string, unknown> }).filter((l) => l.audit).map((l) => l.audit!);
    assert.ok(audits.length >= 7, `expected an audit line per request, got ${audits.length}`);
    const a = audits.find((x) => x.requestId === requestId);
    assert.ok(a, 'no audit line carries the request id of the proxied request');
    assert.equal(a.user, 'plain:alice');
    assert.equal(a.userId, aliceId);
    assert.equal(a.cluster, 'BCS-K8S-40001');
    assert.equal(a.verb, 'get');
    assert.equal(a.status, 200);
    assert.equal(a.path, '/tunnels/clusters/BCS-K8S-40001/version');
    assert.equal(a.sourceIp, '127.0.0.1');
    assert.equal(a.impersonated, 'plain.alice');
    assert.equal(typeof a.bytesIn, 'number');
    assert.equal(a.bytesOut, ok.body.length, 'bytesOut counts the response body');
    const post = audits.find((x) => x.requestId === created.headers['x-request-id']![0]);
    assert.equal(post?.verb, 'create');
    assert.equal(post?.bytesIn, Buffer.byteLength(podBody), 'bytesIn counts the request body sent upstream');
    const refused = audits.filter((x) => x.status === 401);
    assert.equal(refused.length, 2);
    assert.ok(audits.some((x) => x.status === 403 && x.verb === 'connect' && x.upgrade === 'websocket'), 'the refused upgrade is audited');
  });
});

describe('tunnel proxy on MariaDB (store reads on the second dialect)', () => {
  let env: GatewayEnv;
  before(async () => {
    env = await startGatewayEnv('mysql');
  });
  after(async () => env?.stop());

  it('authenticates, resolves the cluster, impersonates and forwards; unknown clusters and tokens are refused', async () => {
    const res = await send(env, 'GET', '/version?probe=mysql', [['Authorization', `Bearer ${env.alice.token}`]]);
    assert.equal(res.status, 200, res.text);
    const rec = onlyRequest(env.fake, 'probe=mysql');
    assert.deepEqual(rec.header('impersonate-user'), ['plain.alice']);
    assert.deepEqual(rec.header('authorization'), [`Bearer ${env.fake.token}`]);
    const unknown = await c2(portOf(env), '/tunnels/clusters/BCS-K8S-49999/version', [['Authorization', `Bearer ${env.alice.token}`]]);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json?.reason, 'NotFound');
    assert.equal((await send(env, 'GET', '/version', [['Authorization', 'Bearer nope']])).status, 401);
  });
});
