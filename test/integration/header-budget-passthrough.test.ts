import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createProxy, type ProxySurfaces } from '../../proxy';
import type { DiscoveryState, DriverDiscovery, DriverModule, ServerInfo } from '../../src/discovery/types';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { requestListener } from '../../src/http/server';
import { createRegistry } from '../../src/metrics';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { rawExchange, requestText, type Lines } from '../helpers/raw-h1';

class OneDriver implements DriverDiscovery {
  constructor(private readonly info: ServerInfo) {}
  drivers(module: DriverModule, clusterId: string): ServerInfo[] {
    return module === 'mesosdriver' && clusterId === 'BCS-MESOS-10001' ? [this.info] : [];
  }
  state(): DiscoveryState {
    return 'connected';
  }
}

/** Lines the driver keeps of each request: Node drops the rest without a word. */
const KEPT = 30;

describe('driver passthrough: its own fields first, client header lines capped', () => {
  let t: TestRuntime;
  let surfaces: ProxySurfaces;
  let gateway: http.Server;
  let driver: http.Server;
  let port: number;
  let token: string;
  const seen: { rawHeaders: string[]; body: string }[] = [];

  before(async () => {
    driver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ rawHeaders: req.rawHeaders, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"result":true}');
      });
    });
    driver.maxHeadersCount = KEPT;
    await new Promise<void>((r) => driver.listen(0, '127.0.0.1', r));
    t = await startTestRuntime('sqlite');
    const root = await createUser(t.rt.context(), undefined, { name: 'root', isSuperUser: true });
    token = (await issueToken(t.rt.context(), undefined, root, {})).secret;
    const discovery = new OneDriver({ ip: '127.0.0.1', port: (driver.address() as AddressInfo).port, scheme: 'http', cluster: 'BCS-MESOS-10001' });
    surfaces = await createProxy(t.rt, createRegistry(), { discovery });
    gateway = http.createServer(requestListener(surfaces.mounts, t.rt.logger, false));
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    port = (gateway.address() as AddressInfo).port;
  });
  after(async () => {
    gateway?.close();
    driver?.close();
    driver?.closeAllConnections();
    await surfaces?.stop();
    await t?.stop();
  });

  const fillers = (n: number): Lines => Array.from({ length: n }, (_, i) => [`X-Filler-${i}`, `v${i}`]);
  const post = (extra: Lines) => {
    const body = '{"kind":"application"}';
    return rawExchange(
      { port },
      requestText('POST', '/bcsapi/v4/scheduler/mesos/namespaces/ns1/applications', [['Host', 'gateway.test'], ['Authorization', `Bearer ${token}`], ['BCS-ClusterID', 'BCS-MESOS-10001'], ['Content-Type', 'application/json'], ['Content-Length', String(body.length)], ...extra, ['Connection', 'close']], body),
    );
  };

  it('a driver keeping 30 lines still gets Host, Content-Type and Content-Length, and the whole body', async () => {
    seen.length = 0;
    const res = await post(fillers(60));
    assert.equal(res.status, 200, res.text);
    const names = seen[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.ok(names.length <= KEPT + 1, `the driver kept ${names.length} lines (test premise)`);
    assert.deepEqual(names.slice(0, 3), ['host', 'content-type', 'content-length']);
    assert.equal(seen[0]!.body, '{"kind":"application"}');
  });

  it('over 100 header lines: 431 in the envelope, and the driver sees nothing', async () => {
    seen.length = 0;
    const res = await post(fillers(100));
    assert.equal(res.status, 431, res.text);
    assert.equal(res.json?.result, false);
    assert.match(res.json?.message, /^\(bcs-api\):the request carries 106 header lines; the gateway accepts at most 100/);
    assert.equal(seen.length, 0);
  });
});
