import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsoleNetworks } from '../../proxy/webconsole/networks';
import { consoleTarget } from '../../proxy/webconsole/target';

const status = (n: ConsoleNetworks, ip: string | undefined): number => {
  const c = n.check(ip);
  return c.ok ? 200 : c.status;
};

describe('web console host_ip', () => {
  it('allows the private ranges by default and nothing else', () => {
    const n = new ConsoleNetworks(undefined, []);
    for (const ip of ['10.1.2.3', '172.16.0.9', '172.31.255.1', '192.168.1.1']) assert.equal(status(n, ip), 200, ip);
    for (const ip of ['8.8.8.8', '172.32.0.1', '127.0.0.1', '169.254.169.254', '::1', 'fd00::1', '0.0.0.0']) assert.equal(status(n, ip), 403, ip);
  });

  it('refuses host names, zone ids and missing values with 400', () => {
    const n = new ConsoleNetworks(['0.0.0.0/0'], []);
    for (const ip of ['localhost', 'console.example', '10.0.0.1.nip.io', 'fe80::1%eth0', '010.0.0.1']) assert.equal(status(n, ip), 400, ip);
    assert.equal(status(n, undefined), 400);
    assert.equal(status(n, ''), 400);
  });

  it('refuses loopback, link-local and metadata inside a broad network unless listed on their own', () => {
    const broad = new ConsoleNetworks(['0.0.0.0/0', '::/0'], []);
    for (const ip of ['127.0.0.1', '127.9.9.9', '169.254.169.254', '169.254.1.1', '::1', 'fe80::1', '224.0.0.1']) assert.equal(status(broad, ip), 403, ip);
    assert.equal(status(broad, '8.8.8.8'), 200);
    const listed = new ConsoleNetworks(['127.0.0.1/32', '169.254.169.254/32'], []);
    assert.equal(status(listed, '127.0.0.1'), 200);
    assert.equal(status(listed, '127.0.0.2'), 403);
    assert.equal(status(listed, '169.254.169.254'), 200);
  });

  it("refuses the gateway's own addresses unless listed as themselves", () => {
    const n = new ConsoleNetworks(undefined, ['10.0.0.5', '127.0.0.1']);
    assert.equal(status(n, '10.0.0.5'), 403);
    assert.match((n.check('10.0.0.5') as { message: string }).message, /gateway's own addresses/);
    assert.equal(status(n, '10.0.0.6'), 200);
    assert.equal(status(new ConsoleNetworks(['10.0.0.0/8', '10.0.0.5/32'], ['10.0.0.5']), '10.0.0.5'), 200);
    assert.equal(status(new ConsoleNetworks(['127.0.0.0/8'], ['127.0.0.1']), '127.0.0.1'), 403, 'the loopback range does not name this host');
  });

  it('refuses IPv4 written inside IPv6', () => {
    const n = new ConsoleNetworks(['0.0.0.0/0', '::/0'], []);
    for (const ip of ['::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:7f00:1', '64:ff9b::a00:1']) assert.equal(status(n, ip), 403, ip);
  });

  it('replaces the first webconsole segment and keeps the query', () => {
    assert.deepEqual(consoleTarget('/bcsapi/v1/webconsole/start_exec?host_ip=10.0.0.1&x=webconsole', '10.0.0.1', 4, 8083, false), {
      origin: 'http://10.0.0.1:8083',
      path: '/bcsapi/v1/consoleproxy/start_exec?host_ip=10.0.0.1&x=webconsole',
    });
    assert.equal(consoleTarget('/bcsapi/v1/webconsole/a', 'fd00::1', 6, 9000, true)!.origin, 'https://[fd00::1]:9000');
    assert.equal(consoleTarget('/bcsapi/v1/webconsole/../../x', '10.0.0.1', 4, 8083, false), undefined);
    assert.equal(consoleTarget('/bcsapi/v1/webconsole/%2e%2e/x', '10.0.0.1', 4, 8083, false), undefined);
  });
});
