import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load';
import { certificateNames } from '../../src/crypto/local-ca';
import { ensureLocalCa, ensureServerCert, firstRunTlsFiles, keepServerCertFresh } from '../../src/http/first-run-tls';
import { createLogger } from '../../src/log';
import { tempDir } from '../helpers/app';
import { waitFor } from '../helpers/wait';
import { problemsOf } from '../helpers/config-problems';

const DAY = 24 * 3600_000;
const NAMES = ['localhost', '127.0.0.1', '::1'];

describe('first-run TLS: when it runs', () => {
  it('is on with no configuration: 127.0.0.1:8443, files under data/tls, loopback names', () => {
    const cwd = tempDir();
    const c = loadConfig({ env: {}, cwd });
    assert.deepEqual(c.autoTls, { address: '127.0.0.1', port: 8443, dir: path.join(cwd, 'data', 'tls'), serverNames: NAMES });
    assert.equal(c.tls, undefined);
    assert.deepEqual(c.plain, { address: '127.0.0.1', port: 8080 });
  });

  it("adds public_url's host and a specific bound address to the names", () => {
    const cwd = tempDir();
    assert.deepEqual(loadConfig({ env: { BCS_API_PUBLIC_URL: 'https://GW.example.test:9443/' }, cwd }).autoTls?.serverNames, [...NAMES, 'gw.example.test']);
    assert.deepEqual(loadConfig({ env: { BCS_API_PUBLIC_URL: 'https://[fd00::5]:8443' }, cwd }).autoTls?.serverNames, [...NAMES, 'fd00::5']);
    const wide = loadConfig({ env: { BCS_API_ADDRESS: '10.1.2.3', BCS_API_ALLOW_INSECURE_LISTENER: 'true', BCS_API_AUTO_TLS_PORT: '9443' }, cwd }).autoTls;
    assert.deepEqual(wide && { address: wide.address, port: wide.port, names: wide.serverNames }, { address: '10.1.2.3', port: 9443, names: [...NAMES, '10.1.2.3'] });
    assert.deepEqual(loadConfig({ env: { BCS_API_ADDRESS: '0.0.0.0', BCS_API_ALLOW_INSECURE_LISTENER: 'true' }, cwd }).autoTls?.serverNames, NAMES);
  });

  it('is off with a certificate, with the insecure_port layout, or when turned off in the file', () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'c.pem'), 'x');
    assert.equal(loadConfig({ env: { BCS_API_TLS_CERT_FILE: 'c.pem', BCS_API_TLS_KEY_FILE: 'c.pem' }, cwd }).autoTls, undefined);
    fs.writeFileSync(path.join(cwd, 'a.yaml'), 'insecure_address: 127.0.0.1\ninsecure_port: 8081\n');
    assert.equal(loadConfig({ file: path.join(cwd, 'a.yaml'), env: {}, cwd }).autoTls, undefined);
    fs.writeFileSync(path.join(cwd, 'b.yaml'), 'auto_tls:\n  enabled: false\n');
    const off = loadConfig({ file: path.join(cwd, 'b.yaml'), env: {}, cwd });
    assert.equal(off.autoTls, undefined);
    assert.deepEqual(off.ignoredKeys, []);
  });

  it("stays off when the plain listener took 8443 itself, and refuses that port when asked for it", () => {
    assert.equal(loadConfig({ env: { BCS_API_PORT: '8443' }, cwd: tempDir() }).autoTls, undefined);
    assert.deepEqual(problemsOf(() => loadConfig({ env: { BCS_API_PORT: '9000', BCS_API_AUTO_TLS_PORT: '9000' }, cwd: tempDir() })), [
      "auto_tls.port: 9000 is also the plain listener's port; choose another (or set auto_tls.enabled: false)",
    ]);
  });
});

describe('first-run TLS: the CA and the server certificate', () => {
  it('makes one CA even when two processes start at once, and keeps its key 0600', async () => {
    const dir = path.join(tempDir(), 'tls');
    const now = new Date();
    const [a, b] = await Promise.all([ensureLocalCa(dir, now), ensureLocalCa(dir, now)]);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.equal([a.created, b.created].filter(Boolean).length, 1);
    assert.equal(fs.statSync(firstRunTlsFiles(dir).caKey).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['ca.crt', 'ca.key'], 'no temporary files left');
    const again = await ensureLocalCa(dir, new Date(now.getTime() + 400 * DAY));
    assert.equal(again.created, false);
    assert.equal(again.fingerprint, a.fingerprint);
    const ca = new crypto.X509Certificate(fs.readFileSync(firstRunTlsFiles(dir).caCert));
    assert.equal(ca.ca, true);
    assert.ok(new Date(ca.validTo).getTime() - now.getTime() > 9 * 365 * DAY, 'the CA lasts ten years');
  });

  it('reuses the server certificate while it fits; replaces it for new names, near its end, or for a foreign key', async () => {
    const dir = path.join(tempDir(), 'tls');
    const files = firstRunTlsFiles(dir);
    const now = new Date();
    const ca = await ensureLocalCa(dir, now);
    const first = await ensureServerCert(dir, ca, NAMES, now);
    assert.equal(first.renewed, true);
    assert.equal(fs.statSync(files.serverKey).mode & 0o777, 0o600);
    const validTo = new Date(new crypto.X509Certificate(first.certPem).validTo).getTime();
    assert.ok(validTo - now.getTime() > 364 * DAY && validTo - now.getTime() <= 365 * DAY, 'a year');

    assert.equal((await ensureServerCert(dir, ca, [...NAMES].reverse(), new Date(now.getTime() + 300 * DAY))).renewed, false, 'same names, 65 days left');
    const named = await ensureServerCert(dir, ca, [...NAMES, 'gw.example.test'], now);
    assert.equal(named.renewed, true);
    assert.deepEqual(certificateNames(named.certPem).sort(), ['127.0.0.1', '::1', 'gw.example.test', 'localhost']);
    const late = await ensureServerCert(dir, ca, [...NAMES, 'gw.example.test'], new Date(now.getTime() + 340 * DAY));
    assert.equal(late.renewed, true, '25 days left');

    fs.writeFileSync(files.serverKey, crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    assert.equal((await ensureServerCert(dir, ca, [...NAMES, 'gw.example.test'], now)).renewed, true, 'the key does not match the certificate');

    const otherCa = await ensureLocalCa(path.join(tempDir(), 'tls'), now);
    assert.equal((await ensureServerCert(dir, otherCa, [...NAMES, 'gw.example.test'], now)).renewed, true, 'signed by another CA');
    assert.equal((await ensureLocalCa(dir, now)).fingerprint, ca.fingerprint, 'the CA itself never changes');
  });

  it('a running server switches to a renewed certificate without a restart', async () => {
    const dir = path.join(tempDir(), 'tls');
    const now = new Date();
    const ca = await ensureLocalCa(dir, now);
    // Made 340 days ago: 25 days left, inside the renewal window.
    const cert = await ensureServerCert(dir, ca, NAMES, new Date(now.getTime() - 340 * DAY));
    const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const served = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = tls.connect({ port, host: '127.0.0.1', ca: ca.certPem, servername: 'localhost' }, () => {
          resolve(new crypto.X509Certificate(s.getPeerCertificate().raw).fingerprint256);
          s.destroy();
        });
        s.on('error', reject);
      });
    const auto = { address: '127.0.0.1', port, dir, serverNames: NAMES };
    const stop = keepServerCertFresh(auto, server, createLogger('silent'), { intervalMs: 20 });
    try {
      assert.equal(await served(), new crypto.X509Certificate(cert.certPem).fingerprint256);
      const renewed = await waitFor('a renewed certificate file', () => {
        const pem = fs.readFileSync(firstRunTlsFiles(dir).serverCert, 'utf8');
        return pem !== cert.certPem ? pem : undefined;
      });
      const fingerprint = new crypto.X509Certificate(renewed).fingerprint256;
      assert.equal(await waitFor('the renewed certificate served', async () => (await served()) === fingerprint), true);
    } finally {
      stop();
      server.close();
    }
  });
});
