import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { rawH2Request, type RawH2Reply } from '../helpers/raw-h2';

const PROTOCOL_ERROR = http2.constants.NGHTTP2_PROTOCOL_ERROR;

/** Node's h2 client, for what it sends willingly (an array value is one header line per element). */
function nodeH2(url: string, ca: string, headers: http2.OutgoingHttpHeaders): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { ca });
    session.on('error', reject);
    const req = session.request(headers);
    let status = 0;
    let text = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      session.close();
      resolve({ status, text });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('duplicate header fields and a disagreeing host over HTTP/2 (TLS listener)', () => {
  let env: GatewayEnv;
  let port: number;
  let tunnel: (p: string) => string;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    port = Number(new URL(env.httpsUrl).port);
    tunnel = (p) => new URL(env.tunnelUrl(p)).pathname;
  });
  after(async () => {
    await env?.stop();
  });

  const call = (path: string, lines: [string, string][], body?: string): Promise<RawH2Reply> =>
    rawH2Request(port, env.gatewayCaPem, [[':method', body === undefined ? 'GET' : 'POST'], [':scheme', 'https'], [':path', path], [':authority', 'gateway.test'], ...lines], body);

  function assertRefused(res: RawH2Reply, path: string, message: string, what: string): void {
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(res)}`);
    if (path.startsWith('/tunnels/')) assert.deepEqual([res.json?.kind, res.json?.reason, res.json?.message], ['Status', 'BadRequest', message], what);
    else assert.deepEqual(res.json, { code: 'BAD_REQUEST', message }, what);
  }

  it('refuses Authorization, X-Bcs-User-Token or Content-Type twice with 400 naming it, on every surface; nothing upstream', async () => {
    env.fake.clearRequests();
    const pairs: [string, string, [string, string]][] = [
      ['Authorization', 'authorization', [`Bearer ${env.alice.token}`, `Bearer ${env.gw.adminToken}`]],
      ['X-Bcs-User-Token', 'x-bcs-user-token', ['first', 'second']],
      ['Content-Type', 'content-type', ['application/json', 'text/plain']],
    ];
    for (const [display, name, values] of pairs) {
      for (const path of ['/graphql', tunnel('/api/v1/namespaces/default/pods'), '/rest/users/alice', '/no/such/route']) {
        const others: [string, string][] = name === 'authorization' ? [] : [['authorization', `Bearer ${env.alice.token}`]];
        const res = await call(path, [[name, values[0]], ...others, ['accept', 'application/json'], [name, values[1]]]);
        assertRefused(res, path, `duplicate "${display}" header: send it once`, `${name} twice on ${path}`);
      }
    }
    assert.equal(env.fake.requests.length, 0);
  });

  it("sends Node's h2 client array value as two lines, which is refused the same way", async () => {
    const res = await nodeH2(env.httpsUrl, env.gatewayCaPem, { ':path': tunnel('/version'), authorization: `Bearer ${env.alice.token}`, 'x-bcs-user-token': ['first', 'second'] });
    assert.equal(res.status, 400);
    assert.match(res.text, /duplicate \\"X-Bcs-User-Token\\" header/);
    // Node's client will not put Authorization, Host or Content-Type on the wire twice (ERR_HTTP2_HEADER_SINGLE_VALUE),
    // which is why the other cases write their header blocks by hand.
    const session = http2.connect(env.httpsUrl, { ca: env.gatewayCaPem });
    try {
      assert.throws(() => session.request({ authorization: ['a', 'b'] as unknown as string }), { code: 'ERR_HTTP2_HEADER_SINGLE_VALUE' });
    } finally {
      session.destroy();
    }
  });

  it('refuses a host header that names another authority than :authority with 400', async () => {
    env.fake.clearRequests();
    for (const path of ['/graphql', tunnel('/version')]) {
      for (const host of ['other.test', 'gateway.test:8443', 'gateway.test.evil']) {
        const res = await call(path, [['authorization', `Bearer ${env.alice.token}`], ['host', host]]);
        assertRefused(res, path, 'the "host" header names another authority than ":authority": send one host', `host ${host} on ${path}`);
      }
    }
    assert.equal(env.fake.requests.length, 0);
  });

  it('serves a host that agrees with :authority (any letter case), and each field once', async () => {
    for (const host of ['gateway.test', 'GATEWAY.Test']) {
      const res = await call(tunnel('/version'), [['authorization', `Bearer ${env.alice.token}`], ['host', host], ['x-bcs-user-token', 'only'], ['content-type', 'application/json']]);
      assert.equal(res.status, 200, `${host}: ${JSON.stringify(res)}`);
      assert.ok(res.json?.gitVersion, res.body);
    }
    const viewer = await call('/graphql', [['authorization', `Bearer ${env.alice.token}`], ['content-type', 'application/json'], ['host', 'gateway.test']], '{"query":"{ viewer { name } }"}');
    assert.equal(viewer.status, 200, viewer.body);
    assert.deepEqual(viewer.json, { data: { viewer: { name: 'plain:alice' } } });
  });

  it('nghttp2 itself resets streams with two host lines, any Transfer-Encoding, or upper-case names (PROTOCOL_ERROR)', async () => {
    env.fake.clearRequests();
    const auth: [string, string] = ['authorization', `Bearer ${env.alice.token}`];
    const cases: [string, [string, string][]][] = [
      ['two host lines', [auth, ['host', 'gateway.test'], ['host', 'gateway.test']]],
      ['transfer-encoding', [auth, ['transfer-encoding', 'chunked']]],
      ['Authorization in capitals', [['Authorization', `Bearer ${env.alice.token}`]]],
      ['AUTHORIZATION and authorization', [['AUTHORIZATION', `Bearer ${env.gw.adminToken}`], auth]],
    ];
    for (const [what, lines] of cases) {
      const res = await call(tunnel('/version'), lines);
      assert.equal(res.status, undefined, `${what} was answered: ${JSON.stringify(res)}`);
      assert.equal(res.rstCode, PROTOCOL_ERROR, what);
    }
    assert.equal(env.fake.requests.length, 0);
  });
});
