import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Dialect } from '../helpers/db';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { rawExchange, requestText, type Lines, type RawH1Response, type RawTarget } from '../helpers/raw-h1';

/** The fields a request may carry once, each with two values a smuggler would pair. */
function guarded(env: GatewayEnv): { name: string; values: [string, string] }[] {
  return [
    { name: 'Host', values: ['gateway.test', 'other.test'] },
    { name: 'Authorization', values: [`Bearer ${env.alice.token}`, `Bearer ${env.gw.adminToken}`] },
    { name: 'X-Bcs-User-Token', values: ['first', 'second'] },
    { name: 'Content-Type', values: ['application/json', 'application/json'] },
    // Node itself refuses two `chunked` lines; this pair it accepts, so the gateway's rule must catch it.
    { name: 'Transfer-Encoding', values: ['gzip', 'chunked'] },
  ];
}

/** The two names of a duplicate pair, in several letter cases. */
function spellings(name: string): [string, string][] {
  const lower = name.toLowerCase();
  const mixed = [...lower].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
  return [
    [name, name],
    [lower, lower],
    [name.toUpperCase(), lower],
    [mixed, name],
  ];
}

/** A request that would succeed but for one field sent twice: the pair is split around the other lines. */
function duplicated(env: GatewayEnv, method: string, target: string, name: string, pair: [string, string], values: [string, string], extra: Lines = []): string {
  const lower = name.toLowerCase();
  const base: Lines = [];
  if (lower !== 'host') base.push(['Host', 'gateway.test']);
  if (lower !== 'authorization') base.push(['Authorization', `Bearer ${env.alice.token}`]);
  if (lower !== 'content-type') base.push(['Content-Type', 'application/json']);
  base.push(['Accept', 'application/json'], ...extra);
  const body = '{"query":"{ viewer { name } }"}';
  if (lower === 'transfer-encoding') return requestText(method, target, [[pair[0], values[0]], ...base, [pair[1], values[1]]], `${method === 'GET' ? '' : `${body.length.toString(16)}\r\n${body}\r\n`}0\r\n\r\n`);
  const framing: Lines = method === 'GET' ? [] : [['Content-Length', String(body.length)]];
  return requestText(method, target, [[pair[0], values[0]], ...base, ...framing, [pair[1], values[1]]], method === 'GET' ? '' : body);
}

function assertRefused(res: RawH1Response, path: string, name: string, what: string): void {
  assert.equal(res.status, 400, `${what}: ${res.text}`);
  assert.equal(res.closed, true, `${what}: the connection stays open after the 400`);
  assert.ok(res.headers['x-request-id']?.[0], what);
  const message = `duplicate "${name}" header: send it once`;
  if (path.startsWith('/tunnels/')) {
    assert.deepEqual({ kind: res.json?.kind, reason: res.json?.reason, code: res.json?.code, message: res.json?.message }, { kind: 'Status', reason: 'BadRequest', code: 400, message }, what);
  } else assert.deepEqual(res.json, { code: 'BAD_REQUEST', message }, what);
}

function suite(dialect: Dialect, full: boolean): void {
  describe(`duplicate header fields over HTTP/1.1 (${dialect})`, () => {
    let env: GatewayEnv;
    let plain: RawTarget;
    let secure: RawTarget;
    let tunnel: (p: string) => string;

    before(async () => {
      env = await startGatewayEnv(dialect);
      env.fake.addPod('ns1', 'web-1');
      plain = { port: Number(new URL(env.tunnelUrl('/')).port) };
      secure = { port: Number(new URL(env.httpsUrl).port), tlsCa: env.gatewayCaPem };
      tunnel = (p) => new URL(env.tunnelUrl(p)).pathname + new URL(env.tunnelUrl(p)).search;
    });
    after(async () => {
      await env?.stop();
    });

    const paths = (): { method: string; target: string }[] => [
      { method: 'POST', target: '/graphql' },
      { method: 'GET', target: tunnel('/api/v1/namespaces/default/pods') },
      { method: 'GET', target: '/rest/users/alice' },
      { method: 'POST', target: '/bcsapi/v4/scheduler/mesos/namespaces/ns1/applications' },
      { method: 'GET', target: '/no/such/route' },
    ];

    it('refuses each field twice, in every letter case, on every surface of the plain listener: 400 naming it, connection closed, nothing upstream', async () => {
      env.fake.clearRequests();
      let count = 0;
      for (const { name, values } of guarded(env)) {
        for (const pair of full ? spellings(name) : spellings(name).slice(0, 2)) {
          for (const { method, target } of full ? paths() : paths().slice(0, 2)) {
            const res = await rawExchange(plain, duplicated(env, method, target, name, pair, values));
            assertRefused(res, target, name, `${pair.join('+')} on ${method} ${target}`);
            count += 1;
          }
        }
      }
      assert.equal(count, full ? 100 : 20);
      assert.equal(env.fake.requests.length, 0, 'a refused request reached the cluster');
    });

    it('refuses the same on the TLS listener over HTTP/1.1 (ALPN http/1.1)', async () => {
      env.fake.clearRequests();
      for (const { name, values } of guarded(env)) {
        for (const pair of spellings(name)) {
          for (const { method, target } of paths().slice(0, full ? 3 : 2)) {
            assertRefused(await rawExchange(secure, duplicated(env, method, target, name, pair, values)), target, name, `TLS ${pair.join('+')} on ${target}`);
          }
        }
      }
      assert.equal(env.fake.requests.length, 0);
    });

    it('refuses upgrade requests carrying a field twice with the same 400 on the raw socket, on both listeners, and closes it', async () => {
      env.fake.clearRequests();
      const ws: Lines = [
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
        ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
        ['Sec-WebSocket-Version', '13'],
        ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io'],
      ];
      const exec = tunnel('/api/v1/namespaces/ns1/pods/web-1/exec?command=echo&command=hi&stdout=true');
      for (const listener of [plain, secure]) {
        for (const { name, values } of guarded(env)) {
          for (const pair of spellings(name).slice(0, full ? 4 : 2)) {
            for (const target of [exec, '/graphql']) {
              const what = `upgrade ${listener.tlsCa ? 'TLS' : 'plain'} ${pair.join('+')} on ${target}`;
              assertRefused(await rawExchange(listener, duplicated(env, 'GET', target, name, pair, values, ws)), target, name, what);
            }
          }
        }
      }
      assert.equal(env.fake.requests.length, 0, 'a refused upgrade reached the cluster');
    });

    it('serves each field sent once: tunnel 200, GraphQL as the one token given, chunked body, upgrade 101', async () => {
      const once: Lines = [['Host', 'gateway.test'], ['Authorization', `Bearer ${env.alice.token}`], ['X-Bcs-User-Token', 'only'], ['Content-Type', 'application/json'], ['Connection', 'close']];
      for (const listener of [plain, secure]) {
        const version = await rawExchange(listener, requestText('GET', tunnel('/version'), once));
        assert.equal(version.status, 200, version.text);
        const body = '{"query":"{ viewer { name } }"}';
        const gql = await rawExchange(listener, requestText('POST', '/graphql', [...once, ['Transfer-Encoding', 'chunked']], `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`));
        assert.equal(gql.status, 200, gql.text);
        assert.deepEqual(gql.json, { data: { viewer: { name: 'plain:alice' } } });
        const upgrade = await rawExchange(
          listener,
          requestText('GET', tunnel('/api/v1/namespaces/ns1/pods/web-1/exec?command=echo&command=hi&stdout=true'), [
            ['Host', 'gateway.test'],
            ['Authorization', `Bearer ${env.gw.adminToken}`],
            ['X-Bcs-User-Token', 'only'],
            ['Connection', 'Upgrade'],
            ['Upgrade', 'websocket'],
            ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
            ['Sec-WebSocket-Version', '13'],
            ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io'],
          ]),
          { closeWaitMs: 0 },
        );
        assert.equal(upgrade.status, 101, upgrade.text);
      }
    });

    it('GraphQL with two bearer tokens (alice, then admin) is refused rather than run as either', async () => {
      const body = '{"query":"{ viewer { name isSuperUser } }"}';
      for (const order of [
        [env.alice.token, env.gw.adminToken],
        [env.gw.adminToken, env.alice.token],
      ]) {
        const res = await rawExchange(plain, requestText('POST', '/graphql', [['Host', 'gateway.test'], ['Authorization', `Bearer ${order[0]}`], ['Content-Type', 'application/json'], ['Content-Length', String(body.length)], ['authorization', `Bearer ${order[1]}`]], body));
        assertRefused(res, '/graphql', 'Authorization', 'two bearer tokens');
        assert.doesNotMatch(res.text, /bcs_/, 'the refusal echoes a token');
      }
    });

    if (full) {
      it("Node's own parser already refuses two Content-Length lines, two `chunked` lines, both Content-Length and Transfer-Encoding, and no Host", async () => {
        env.fake.clearRequests();
        const auth: [string, string] = ['Authorization', `Bearer ${env.alice.token}`];
        const cases: Lines[] = [
          [['Host', 'gateway.test'], auth, ['Content-Length', '2'], ['Content-Length', '2']],
          [['Host', 'gateway.test'], auth, ['Content-Length', '2'], ['content-length', '3']],
          [['Host', 'gateway.test'], auth, ['Transfer-Encoding', 'chunked'], ['Transfer-Encoding', 'chunked']],
          [['Host', 'gateway.test'], auth, ['Content-Length', '2'], ['Transfer-Encoding', 'chunked']],
          [auth],
        ];
        for (const lines of cases) {
          const res = await rawExchange(plain, requestText('POST', tunnel('/version'), lines, '{}'));
          assert.equal(res.status, 400, JSON.stringify(lines.map(([n]) => n)));
          assert.equal(res.closed, true);
        }
        assert.equal(env.fake.requests.length, 0);
      });
    }
  });
}

suite('sqlite', true);
suite('mysql', false);
