/**
 * Clients speaking HTTP/2 to the gateway's TLS listener (kubectl/client-go negotiate h2 over ALPN): the
 * identity passes must catch every duplicate and spelling over h2 too, pseudo-headers never go upstream,
 * and the other surfaces on the listener (GraphQL, REST) work over the HTTP/2 compat API.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { identitySeen } from '../helpers/identity-headers';

interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  text: string;
  json: any;
}

/** One request as one stream of `session`; header lines given as [name, value] pairs, duplicates kept. */
function h2Request(session: http2.ClientHttp2Session, method: string, path: string, lines: [string, string][], body?: string): Promise<H2Response> {
  // Node's client sends an array value as one field line per element, which is how duplicates are kept apart.
  const headers: http2.OutgoingHttpHeaders = { ':method': method, ':path': path };
  for (const [name, value] of lines) {
    const key = name.toLowerCase();
    const prev = headers[key];
    headers[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [String(prev)]), value];
  }
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let got: http2.IncomingHttpHeaders = {};
    let text = '';
    stream.once('response', (h) => (got = h));
    stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
    stream.once('end', () => {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(got[':status']), headers: got, text, json });
    });
    stream.once('error', reject);
    if (body !== undefined) stream.end(body);
  });
}


/**
 * A hand-made HTTP/2 request whose header names keep their case (Node's client lower-cases them): HPACK
 * "literal without indexing, new name", no Huffman. Resolves with the frame types received in 2 s.
 */
function rawH2(url: string, ca: string, fields: [string, string][]): Promise<{ frames: { type: number; stream: number; payload: Buffer }[] }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: u.hostname, port: Number(u.port), ca, servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
      assert.equal(socket.alpnProtocol, 'h2');
      const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
        const head = Buffer.alloc(9);
        head.writeUIntBE(payload.length, 0, 3);
        head[3] = type;
        head[4] = flags;
        head.writeUInt32BE(stream, 5);
        return Buffer.concat([head, payload]);
      };
      const str = (s: string): Buffer => {
        assert.ok(s.length < 127);
        return Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
      };
      const block = Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0x00]), str(n), str(v)]));
      socket.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'));
      socket.write(frame(0x4, 0, 0, Buffer.alloc(0)));
      socket.write(frame(0x1, 0x5, 1, block));
    });
    let buf = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => (buf = Buffer.concat([buf, c])));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      const frames: { type: number; stream: number; payload: Buffer }[] = [];
      for (let at = 0; at + 9 <= buf.length; ) {
        const len = buf.readUIntBE(at, 3);
        frames.push({ type: buf[at + 3]!, stream: buf.readUInt32BE(at + 5) & 0x7fffffff, payload: buf.subarray(at + 9, at + 9 + len) });
        at += 9 + len;
      }
      resolve({ frames });
    }, 2000);
  });
}

describe('HTTP/2 clients on the TLS listener', () => {
  let env: GatewayEnv;
  let session: http2.ClientHttp2Session;
  let prefix: string;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('ns1', 'web-1');
    prefix = `/tunnels/clusters/${env.identifier}`;
    session = http2.connect(env.httpsUrl, { ca: env.gatewayCaPem, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
  });
  after(async () => {
    session?.destroy();
    await env?.stop();
  });

  it('negotiates h2 over ALPN', () => {
    assert.equal(session.alpnProtocol, 'h2');
  });

  it('sends exactly the gateway identity for a normal user over h2, whatever duplicates the client smuggles; no pseudo-header goes upstream', async () => {
    const res = await h2Request(session, 'GET', `${prefix}/version?probe=h2-alice`, [
      ['authorization', `Bearer ${env.alice.token}`],
      ['x-remote-user', 'admin'],
      ['x-remote-group', 'system:masters'],
      ['x-remote-extra-scopes', 'everything'],
      ['x_remote_user', 'admin'],
      ['x-forwarded-for', '6.6.6.6'],
      ['x-forwarded-for', '7.7.7.7'],
      ['x-forwarded-host', 'evil.example'],
      ['forwarded', 'for=6.6.6.6'],
      ['x-real-ip', '6.6.6.6'],
      ['cookie', 'session=abc'],
      ['cookie', 'other=def'],
      ['audit-id', 'attacker-1'],
      ['audit-id', 'attacker-2'],
      ['proxy-authorization', 'Basic eDp5'],
      ['accept', 'application/json'],
    ]);
    assert.equal(res.status, 200, res.text);
    const recs = env.fake.requests.filter((r) => r.url.includes('probe=h2-alice'));
    assert.equal(recs.length, 1);
    const rec = recs[0]!;
    assert.deepEqual(identitySeen(rec), {
      'impersonate-user': ['plain.alice'],
      'impersonate-group': ['dev'],
      'impersonate-extra-bcs.tencent.com%2fgateway-user-id': [String(env.alice.id)],
      'impersonate-extra-bcs.tencent.com%2fgateway-token-id': [identitySeen(rec)['impersonate-extra-bcs.tencent.com%2fgateway-token-id']![0]!],
      authorization: [`Bearer ${env.fake.token}`],
      'x-forwarded-for': ['127.0.0.1'],
      'audit-id': [String(res.headers['x-request-id'])],
    });
    assert.equal(rec.user?.username, 'plain.alice');
    const gatewayAuthority = new URL(env.httpsUrl).host;
    for (let i = 0; i < rec.rawHeaders.length; i += 2) {
      assert.ok(!rec.rawHeaders[i]!.startsWith(':'), `pseudo-header ${rec.rawHeaders[i]} forwarded`);
      assert.notEqual(rec.rawHeaders[i + 1], gatewayAuthority, `:authority forwarded as ${rec.rawHeaders[i]}`);
      assert.doesNotMatch(rec.rawHeaders[i + 1]!, /\/tunnels\/clusters/, `:path forwarded as ${rec.rawHeaders[i]}`);
      assert.notEqual(rec.rawHeaders[i]!.toLowerCase(), 'method');
      assert.notEqual(rec.rawHeaders[i]!.toLowerCase(), 'scheme');
    }
  });

  it("passes a super user's --as over h2 with one line per group (duplicates kept apart)", async () => {
    const res = await h2Request(session, 'GET', `${prefix}/version?probe=h2-admin-as`, [
      ['authorization', `Bearer ${env.gw.adminToken}`],
      ['impersonate-user', 'plain.alice'],
      ['impersonate-group', 'dev'],
      ['impersonate-group', 'ops'],
      ['impersonate-extra-scopes', 'a'],
      ['impersonate-extra-scopes', 'b'],
    ]);
    assert.equal(res.status, 200, res.text);
    const rec = env.fake.requests.find((r) => r.url.includes('probe=h2-admin-as'))!;
    const seen = identitySeen(rec);
    assert.deepEqual(seen['impersonate-user'], ['plain.alice']);
    assert.deepEqual(seen['impersonate-group'], ['dev', 'ops']);
    assert.deepEqual(seen['impersonate-extra-scopes'], ['a', 'b']);
    assert.deepEqual(seen.authorization, [`Bearer ${env.fake.token}`]);
  });

  it("refuses a normal user's impersonation over h2 in every spelling (duplicates, underscores, extra-*) with 403; nothing reaches the cluster", async () => {
    const variants: [string, string][][] = [
      [['impersonate-user', 'system:admin']],
      [['impersonate-group', 'dev'], ['impersonate-group', 'system:masters']],
      [['impersonate_group', 'system:masters']],
      [['impersonate-uid', '0']],
      [['impersonate-extra-scopes', 'x']],
      [['impersonate-extra-bcs.tencent.com%2fgateway-user-id', '1'], ['impersonate-extra-bcs.tencent.com%2fgateway-user-id', '2']],
    ];
    for (const [i, v] of variants.entries()) {
      env.fake.clearRequests();
      const res = await h2Request(session, 'GET', `${prefix}/api/v1/namespaces/default/pods?probe=h2-imp-${i}`, [['authorization', `Bearer ${env.alice.token}`], ...v]);
      assert.equal(res.status, 403, `${JSON.stringify(v)}: ${res.text}`);
      assert.equal(res.json?.reason, 'Forbidden');
      assert.deepEqual(env.fake.requests.map((r) => `${r.method} ${r.url} ${JSON.stringify(identitySeen(r))}`), [], `${JSON.stringify(v)} reached the cluster`);
    }
  });

  it('drops an Impersonate-* value with leading whitespace over h2 (nghttp2 ignores the malformed field): the cluster sees only the gateway identity', async () => {
    // Over HTTP/1.1 the value is trimmed and the attempt refused with 403; over h2 nghttp2 drops the field
    // (RFC 9113 §8.2.1) before the gateway sees it, so the request goes on as alice herself.
    env.fake.clearRequests();
    const res = await h2Request(session, 'GET', `${prefix}/version?probe=h2-ws`, [
      ['authorization', `Bearer ${env.alice.token}`],
      ['impersonate-user', ' system:admin'],
      ['impersonate-group', 'system:masters '],
    ]);
    assert.ok(res.status === 403 || res.status === 200, res.text);
    for (const rec of env.fake.requests) {
      const seen = identitySeen(rec);
      assert.deepEqual(seen['impersonate-user'], ['plain.alice']);
      assert.deepEqual(seen['impersonate-group'], ['dev']);
      assert.equal(rec.user?.username, 'plain.alice');
    }
  });

  it('never lets mixed-case header names through over h2 (a hand-made frame): stream reset or 403, nothing upstream', async () => {
    env.fake.clearRequests();
    const authority = new URL(env.httpsUrl).host;
    const { frames } = await rawH2(env.httpsUrl, env.gatewayCaPem, [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':authority', authority],
      [':path', `${prefix}/version?probe=h2-mixed`],
      ['authorization', `Bearer ${env.alice.token}`],
      ['Impersonate-Group', 'system:masters'],
      ['iMpErSoNaTe-UsEr', 'system:admin'],
    ]);
    const onStream = frames.filter((f) => f.stream === 1);
    // nghttp2 treats an upper-case field name as malformed (RFC 9113 §8.2.1): RST_STREAM(PROTOCOL_ERROR).
    const reset = onStream.find((f) => f.type === 0x3);
    assert.ok(reset, `stream not reset: ${JSON.stringify(frames.map((f) => [f.type, f.stream]))}`);
    assert.equal(reset.payload.readUInt32BE(0), http2.constants.NGHTTP2_PROTOCOL_ERROR);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(env.fake.requests.length, 0, 'a request with mixed-case identity headers reached the cluster');
  });

  it('never forwards a second Authorization line over h2 (a hand-made frame; Node\'s client refuses to send one): only the gateway identity upstream', async () => {
    env.fake.clearRequests();
    const authority = new URL(env.httpsUrl).host;
    await rawH2(env.httpsUrl, env.gatewayCaPem, [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':authority', authority],
      [':path', `${prefix}/version?probe=h2-dup-auth`],
      ['authorization', `Bearer ${env.alice.token}`],
      ['authorization', `Bearer ${env.fake.token}`],
      ['x-remote-user', 'admin'],
    ]);
    const recs = env.fake.requests.filter((r) => r.url.includes('probe=h2-dup-auth'));
    assert.ok(recs.length <= 1);
    for (const rec of recs) {
      const seen = identitySeen(rec);
      assert.deepEqual(seen.authorization, [`Bearer ${env.fake.token}`]);
      assert.deepEqual(seen['impersonate-user'], ['plain.alice'], 'the first Authorization line (alice) authenticated; the second is dropped');
      assert.equal(seen['x-remote-user'], undefined);
      assert.equal(rec.user?.username, 'plain.alice');
    }
  });

  it('streams a watch over h2 (h2 upstream too), with the gateway identity', async () => {
    env.fake.clearRequests();
    const stream = session.request({ ':path': `${prefix}/api/v1/namespaces/ns1/pods?watch=1&probe=h2-watch`, authorization: `Bearer ${env.alice.token}`, 'impersonate-group-x': 'no' });
    const status = await new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))));
    assert.equal(status, 403, 'impersonate-group-x is an Impersonate-* header and is refused');
    stream.destroy();
    const ok = session.request({ ':path': `${prefix}/api/v1/namespaces/ns1/pods?watch=1&probe=h2-watch2`, authorization: `Bearer ${env.gw.adminToken}` });
    const first = await new Promise<string>((resolve, reject) => {
      ok.once('response', (h) => assert.equal(h[':status'], 200));
      ok.once('data', (c: Buffer) => resolve(c.toString()));
      ok.once('error', reject);
    });
    assert.match(first, /"type":"ADDED"/);
    const rec = env.fake.requests.find((r) => r.url.includes('probe=h2-watch2'))!;
    assert.equal(rec.httpVersion, '2.0');
    for (let i = 0; i < rec.rawHeaders.length; i += 2) assert.ok(!rec.rawHeaders[i]!.startsWith(':'));
    ok.close(http2.constants.NGHTTP2_CANCEL);
  });

  it('serves GraphQL over h2, and a kubeconfig whose server is the :authority the client used', async () => {
    const res = await h2Request(
      session,
      'POST',
      '/graphql',
      [
        [':authority', new URL(env.httpsUrl).host],
        ['content-type', 'application/json'],
        ['authorization', `Bearer ${env.alice.token}`],
      ],
      JSON.stringify({ query: 'mutation($c: ID!) { kubeconfig(clusterId: $c) { kubeconfig } }', variables: { c: env.clusterId } }),
    );
    assert.equal(res.status, 200, res.text);
    assert.match(res.json.data.kubeconfig.kubeconfig, new RegExp(`server: ${env.httpsUrl.replace(/[.]/g, '\\.')}/tunnels/clusters/`));
  });

  it('serves REST over h2', async () => {
    const res = await h2Request(session, 'GET', `/rest/clusters/${env.clusterId}`, [['authorization', `Bearer ${env.gw.adminToken}`]]);
    assert.ok(res.status < 500, res.text);
    assert.ok(res.json, res.text);
  });
});
