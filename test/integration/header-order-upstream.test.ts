import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/crypto/tokens';
import { ApiToken } from '../../src/store/entities';
import { registerCluster } from '../helpers/clusters';
import type { Dialect } from '../helpers/db';
import { generateCerts } from '../helpers/fake-kube/certs';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { rawExchange, requestText, type Lines, type RawTarget } from '../helpers/raw-h1';
import { waitFor } from '../helpers/wait';

/** What a capped apiserver kept of one request: every header line it did not drop. */
interface Seen {
  url: string;
  rawHeaders: string[];
  upgrade: boolean;
}

const UPSTREAM_TOKEN = 'upstream-sa-token-for-the-capped-apiserver';
/** Lines the capped apiserver keeps (Node drops the rest of a request's header lines without a word). */
const KEPT = 30;

/** An HTTP/1.1 apiserver stand-in that keeps only the first KEPT header lines, as `maxHeadersCount` makes Node do. */
async function cappedApiserver(): Promise<{ url: string; caPem: string; seen: Seen[]; close(): void }> {
  const certs = generateCerts();
  const seen: Seen[] = [];
  const server = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
    seen.push({ url: req.url!, rawHeaders: req.rawHeaders, upgrade: false });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"kind":"Status","apiVersion":"v1","status":"Success"}');
  });
  server.maxHeadersCount = KEPT;
  server.on('upgrade', (req: http.IncomingMessage, socket) => {
    seen.push({ url: req.url!, rawHeaders: req.rawHeaders, upgrade: true });
    socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caPem: certs.caPem, seen, close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

const fillers = (n: number): Lines => Array.from({ length: n }, (_, i) => [`X-Filler-${String(i).padStart(3, '0')}`, `value-${i}`]);
const namesOf = (raw: string[]): string[] => raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
const valueOf = (raw: string[], name: string): string[] => raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === name);

function suite(dialect: Dialect, full: boolean): void {
  describe(`the gateway's own headers come first upstream; client headers are capped (${dialect})`, () => {
    let env: GatewayEnv;
    let capped: Awaited<ReturnType<typeof cappedApiserver>>;
    let plain: RawTarget;
    let target: (p: string) => string;
    let aliceTokenId: number;

    before(async () => {
      env = await startGatewayEnv(dialect);
      capped = await cappedApiserver();
      await registerCluster(() => env.gw.app.runtime.context(), 'BCS-K8S-40077', { serverAddresses: capped.url, caCertData: capped.caPem, userToken: UPSTREAM_TOKEN });
      plain = { port: Number(new URL(env.tunnelUrl('/')).port) };
      target = (p) => `/tunnels/clusters/BCS-K8S-40077${p}`;
      aliceTokenId = (await env.gw.app.runtime.orm.em.fork().findOneOrFail(ApiToken, { digest: sha256Hex(env.alice.token) })).id;
    });
    after(async () => {
      capped?.close();
      await env?.stop();
    });

    /** The gateway's fields for alice, in the order they must arrive, right after the lines before them. */
    const gatewayFields = (): string[] => [
      'authorization',
      'impersonate-user',
      'impersonate-group',
      'impersonate-extra-bcs.tencent.com%2fgateway-user-id',
      'impersonate-extra-bcs.tencent.com%2fgateway-token-id',
      'x-forwarded-for',
      'audit-id',
    ];

    function assertGatewayFirst(seen: Seen, before: string[], what: string): void {
      const names = namesOf(seen.rawHeaders);
      // Node keeps maxHeadersCount lines, give or take one; far fewer than were sent, in any case.
      assert.ok(names.length <= KEPT + 1, `${what}: the apiserver kept ${names.length} lines, so it did not cap the request (test premise)`);
      assert.deepEqual(names.slice(0, before.length + gatewayFields().length), [...before, ...gatewayFields()], what);
      assert.deepEqual(valueOf(seen.rawHeaders, 'authorization'), [`Bearer ${UPSTREAM_TOKEN}`], what);
      assert.deepEqual(valueOf(seen.rawHeaders, 'impersonate-user'), ['plain.alice'], what);
      assert.deepEqual(valueOf(seen.rawHeaders, 'impersonate-extra-bcs.tencent.com%2fgateway-token-id'), [String(aliceTokenId)], what);
      assert.ok(names.filter((n) => n.startsWith('x-filler-')).length < 60, `${what}: every filler arrived, so nothing was dropped`);
    }

    it('HTTP/1.1 upstream (undici): 60 client headers, an apiserver keeping 30 lines still gets every one of the gateway headers', async () => {
      capped.seen.length = 0;
      // A digits-only name would be listed before every other key of a JavaScript object: it is not forwarded.
      const res = await rawExchange(plain, requestText('GET', target('/api/v1/namespaces/default/pods?probe=h1'), [['Host', 'gateway.test'], ['Authorization', `Bearer ${env.alice.token}`], ...fillers(60), ['123', 'digits']]), { closeWaitMs: 0 });
      assert.equal(res.status, 200, res.text);
      assert.equal(capped.seen.length, 1);
      // undici writes its own `connection: keep-alive` right after Host.
      assertGatewayFirst(capped.seen[0]!, ['host', 'connection'], 'h1');
    });

    it('upgrades: the same order in the hand-written upgrade head (after Host, Connection, Upgrade)', async () => {
      capped.seen.length = 0;
      const lines: Lines = [
        ['Host', 'gateway.test'],
        ['Authorization', `Bearer ${env.alice.token}`],
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
        ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
        ['Sec-WebSocket-Version', '13'],
        ...fillers(60),
        ['7', 'digits'],
      ];
      const res = await rawExchange(plain, requestText('GET', target('/api/v1/namespaces/ns1/pods/web-1/exec?command=sh&stdout=true'), lines), { closeWaitMs: 0 });
      assert.equal(res.status, 101, res.text);
      assert.equal(capped.seen.length, 1);
      assert.equal(capped.seen[0]!.upgrade, true);
      assertGatewayFirst(capped.seen[0]!, ['host', 'connection', 'upgrade'], 'upgrade');
    });

    it('over 100 client header lines: 431 RequestHeaderFieldsTooLarge before any upstream call, plain and upgrade', async () => {
      capped.seen.length = 0;
      const auth: Lines = [['Host', 'gateway.test'], ['Authorization', `Bearer ${env.alice.token}`]];
      const over = await rawExchange(plain, requestText('GET', target('/api/v1/namespaces/default/pods?probe=over'), [...auth, ...fillers(99)]), { closeWaitMs: 0 });
      assert.equal(over.status, 431, over.text);
      assert.equal(over.json?.kind, 'Status');
      assert.equal(over.json?.reason, 'RequestHeaderFieldsTooLarge');
      assert.equal(over.json?.code, 431);
      assert.match(over.json?.message, /101 header lines; the gateway accepts at most 100/);
      const upgrade = await rawExchange(plain, requestText('GET', target('/api/v1/namespaces/ns1/pods/web-1/exec?command=sh&stdout=true'), [...auth, ['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ...fillers(120)]));
      assert.equal(upgrade.status, 431, upgrade.text);
      assert.equal(upgrade.json?.reason, 'RequestHeaderFieldsTooLarge');
      assert.equal(upgrade.closed, true);
      assert.equal(capped.seen.length, 0, 'a request over the cap reached the apiserver');
      // Exactly at the cap is fine.
      const at = await rawExchange(plain, requestText('GET', target('/api/v1/namespaces/default/pods?probe=at'), [...auth, ...fillers(98)]), { closeWaitMs: 0 });
      assert.equal(at.status, 200, at.text);
    });

    if (full) {
      it('over HTTP/2 from the client: over 100 lines or 16 KiB of names and values is 431 too', async () => {
        capped.seen.length = 0;
        const h2 = (headers: http2.OutgoingHttpHeaders) =>
          new Promise<{ status: number; json: any }>((resolve, reject) => {
            const session = http2.connect(env.httpsUrl, { ca: env.gatewayCaPem });
            session.on('error', reject);
            const req = session.request({ ':path': target('/api/v1/namespaces/default/pods'), authorization: `Bearer ${env.alice.token}`, ...headers });
            let status = 0;
            let text = '';
            req.on('response', (h) => (status = Number(h[':status'])));
            req.on('data', (c: Buffer) => (text += c.toString()));
            req.on('end', () => {
              session.close();
              resolve({ status, json: JSON.parse(text) });
            });
            req.on('error', reject);
            req.end();
          });
        const many = await h2(Object.fromEntries(fillers(110).map(([n, v]) => [n.toLowerCase(), v])));
        assert.equal(many.status, 431);
        assert.equal(many.json.reason, 'RequestHeaderFieldsTooLarge');
        const big = await h2(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-big-${i}`, 'v'.repeat(1000)])));
        assert.equal(big.status, 431);
        assert.match(big.json.message, /header names and values take \d+ bytes; the gateway accepts at most 16384/);
        assert.equal(capped.seen.length, 0);
      });

      it('HTTP/2 upstream (watches): the gateway headers are the first regular fields of the stream', async () => {
        env.fake.clearRequests();
        const req = http.get(env.tunnelUrl('/api/v1/namespaces/default/pods?watch=1&probe=h2order'), { headers: { authorization: `Bearer ${env.alice.token}`, 'x-client-first': 'a', 'x-client-second': 'b' }, agent: false });
        req.on('error', () => undefined);
        try {
          const rec = await waitFor('the watch upstream', () => env.fake.requests.find((r) => r.url.includes('probe=h2order')), 5000);
          assert.equal(rec.httpVersion, '2.0');
          const names = namesOf(rec.rawHeaders);
          assert.deepEqual(names.slice(0, gatewayFields().length), gatewayFields());
          assert.ok(names.indexOf('x-client-first') > names.indexOf('audit-id'));
        } finally {
          req.destroy();
        }
      });
    }
  });
}

suite('sqlite', true);
suite('mysql', false);
