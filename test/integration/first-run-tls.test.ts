/**
 * First run: no configuration file, no TLS settings. The gateway serves TLS beside the plain listener with
 * a CA and certificate it generates, and the kubeconfig it hands out over plain HTTP is all real kubectl
 * needs. With TLS configured, nothing is generated.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { startApp, type App } from '../../src/app';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { issueToken } from '../../src/domain/tokens';
import { findUserByName } from '../../src/domain/users';
import { ConfigError } from '../../src/errors';
import { certificateNames } from '../../src/crypto/local-ca';
import { createLogger } from '../../src/log';
import { tempDir } from '../helpers/app';
import { credsOf, registerCluster } from '../helpers/clusters';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../helpers/db';
import { kubectl, startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { generateCerts } from '../helpers/fake-kube/certs';
import { freePorts } from '../helpers/serve-process';
import { call } from './rest-fixtures';
import { gql } from './graphql-fixtures';

const silent = createLogger('silent');

/** The configuration `npm start` gets from nothing but the environment (ports chosen by the test). */
function zeroConfig(cwd: string, env: Record<string, string>, db?: TestDatabase): Config {
  const loaded = loadConfig({ env: { BCS_API_LOG_LEVEL: 'silent', ...env }, cwd });
  // SQLite is the zero-configuration store; the MariaDB run swaps in its own database, nothing else.
  return { ...loaded, database: db && db.config.dialect === 'mysql' ? db.config : loaded.database, rbac: { ...loaded.rbac, syncEnabled: false } };
}

function tlsFiles(cwd: string) {
  const dir = path.join(cwd, 'data', 'tls');
  return { dir, caCert: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'), serverCert: path.join(dir, 'server.crt'), serverKey: path.join(dir, 'server.key') };
}

const snapshot = (files: string[]) => files.map((f) => ({ f, text: fs.readFileSync(f, 'utf8'), ino: fs.statSync(f).ino, mode: fs.statSync(f).mode & 0o777 }));

function httpsGet(url: string, ca: string): Promise<{ status: number; peer: crypto.X509Certificate }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, agent: false }, (res) => {
      const raw = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().raw;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, peer: new crypto.X509Certificate(raw) }));
    });
    req.on('error', reject);
  });
}

for (const dialect of DIALECTS) {
  describe(`first-run TLS on ${dialect}: no configuration at all`, () => {
    let cwd: string;
    let db: TestDatabase;
    let fake: FakeKube;
    let app: App | undefined;
    let config: Config;
    let plainUrl: string;
    let tlsUrl: string;
    let clusterId: string;
    let identifier: string;
    let kubeconfigFile: string;

    before(async () => {
      cwd = tempDir('bcs-api-first-run-');
      db = await createTestDatabase(dialect, cwd);
      const [plainPort, tlsPort] = await freePorts(2);
      config = zeroConfig(cwd, { BCS_API_PORT: String(plainPort), BCS_API_AUTO_TLS_PORT: String(tlsPort) }, db);
      assert.equal(config.tls, undefined, 'nothing configured');
      plainUrl = `http://127.0.0.1:${plainPort}`;
      tlsUrl = `https://127.0.0.1:${tlsPort}`;
      fake = await startFakeKube();
      fake.addPod('ns1', 'web-1');
      app = await startApp(config, silent);
      const registered = await registerCluster(() => app!.runtime.context(), 'BCS-K8S-50001', credsOf(fake));
      clusterId = registered.cluster.id;
      identifier = registered.cluster.identifier;
    });
    after(async () => {
      await app?.stop();
      await fake?.stop();
      await db?.drop();
      if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
    });

    it('serves TLS beside the plain listener, with a CA and a loopback certificate generated in data/tls (keys 0600)', async () => {
      assert.deepEqual(app!.listening.urls, [tlsUrl, plainUrl]);
      const f = tlsFiles(cwd);
      assert.equal(fs.statSync(f.caKey).mode & 0o777, 0o600);
      assert.equal(fs.statSync(f.serverKey).mode & 0o777, 0o600);
      const ca = fs.readFileSync(f.caCert, 'utf8');
      const cert = new crypto.X509Certificate(fs.readFileSync(f.serverCert));
      assert.ok(cert.verify(new crypto.X509Certificate(ca).publicKey), 'the server certificate is signed by the CA');
      assert.deepEqual(certificateNames(cert.toString()).sort(), ['127.0.0.1', '::1', 'localhost']);
      const { status, peer } = await httpsGet(`${tlsUrl}/livez`, ca);
      assert.equal(status, 200);
      assert.equal(peer.fingerprint256, cert.fingerprint256);
    });

    it('kubectl runs get pods and exec with nothing but the kubeconfig the GraphQL mutation gave over plain HTTP', async () => {
      const res = await gql(plainUrl, app!.defaultAdminToken, 'mutation($c: ID!) { kubeconfig(clusterId: $c) { kubeconfig server } }', { c: clusterId });
      assert.deepEqual(res.errors ?? [], []);
      const { kubeconfig, server } = res.data.kubeconfig as { kubeconfig: string; server: string };
      assert.equal(server, `${tlsUrl}/tunnels/clusters/${identifier}`, 'the TLS listener, though asked over plain HTTP');
      const doc = parseYaml(kubeconfig) as { clusters: { cluster: Record<string, string> }[] };
      assert.equal(Buffer.from(doc.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString(), fs.readFileSync(tlsFiles(cwd).caCert, 'utf8'));
      kubeconfigFile = path.join(cwd, 'admin.kubeconfig');
      fs.writeFileSync(kubeconfigFile, kubeconfig, { mode: 0o600 });

      const pods = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: kubeconfigFile });
      assert.equal(pods.code, 0, pods.stderr);
      assert.equal(pods.stdout.trim(), 'pod/web-1');
      const exec = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'first-run-ok'], { kubeconfig: kubeconfigFile });
      assert.equal(exec.code, 0, exec.stderr);
      assert.equal(exec.stdout.trim(), 'first-run-ok');
      assert.ok(fake.requests.some((r) => r.url.startsWith('/api/v1/namespaces/ns1/pods/web-1/exec')), 'the exec reached the cluster');
    });

    it('client_credentials, asked over plain HTTP, names the TLS URL and carries the generated CA', async () => {
      const cc = await call(plainUrl, 'GET', `/rest/clusters/${clusterId}/client_credentials`, { token: app!.defaultAdminToken });
      assert.equal(cc.status, 200, cc.text);
      assert.equal(cc.body.cacert_data, fs.readFileSync(tlsFiles(cwd).caCert, 'utf8'));
      assert.equal(cc.body.server_address, `${tlsUrl}/tunnels/clusters/${identifier}/`);
      assert.equal(cc.body.server_address_path, `/tunnels/clusters/${identifier}/`);
    });

    it('keeps the CA and the certificate across a restart, so kubeconfigs handed out before still work', async () => {
      const f = tlsFiles(cwd);
      const before = snapshot([f.caCert, f.caKey, f.serverCert, f.serverKey]);
      await app!.stop();
      app = undefined;
      app = await startApp(config, silent);
      assert.deepEqual(snapshot([f.caCert, f.caKey, f.serverCert, f.serverKey]), before, 'same files, same contents, keys still 0600');
      const pods = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: kubeconfigFile });
      assert.equal(pods.code, 0, pods.stderr);
      assert.equal(pods.stdout.trim(), 'pod/web-1');
    });

    it('issues a new server certificate, under the same CA, when public_url names another host', async () => {
      const f = tlsFiles(cwd);
      const ca = fs.readFileSync(f.caCert, 'utf8');
      const oldCert = fs.readFileSync(f.serverCert, 'utf8');
      await app!.stop();
      app = undefined;
      const tlsPort = new URL(tlsUrl).port;
      const moved = zeroConfig(cwd, { BCS_API_PORT: new URL(plainUrl).port, BCS_API_AUTO_TLS_PORT: tlsPort, BCS_API_PUBLIC_URL: `https://gw.example.test:${tlsPort}` }, db);
      app = await startApp(moved, silent);
      assert.equal(fs.readFileSync(f.caCert, 'utf8'), ca, 'the CA is kept');
      const cert = fs.readFileSync(f.serverCert, 'utf8');
      assert.notEqual(cert, oldCert);
      assert.deepEqual(certificateNames(cert).sort(), ['127.0.0.1', '::1', 'gw.example.test', 'localhost']);
      const cc = await call(plainUrl, 'GET', `/rest/clusters/${clusterId}/client_credentials`, { token: await issueAdminToken(app) });
      assert.equal(cc.body.server_address, `https://gw.example.test:${tlsPort}/tunnels/clusters/${identifier}/`, 'public_url wins');
      assert.equal(cc.body.cacert_data, ca);
    });
  });
}

/** The default admin's token is printed on the first start only; later starts issue one to test with. */
async function issueAdminToken(app: App): Promise<string> {
  const ctx = app.runtime.context();
  return (await issueToken(ctx, undefined, (await findUserByName(ctx, 'admin'))!, {})).secret;
}

describe('first-run TLS stays out of the way', () => {
  it('generates nothing when TLS is configured, and kubeconfigs embed the configured certificate', async () => {
    const cwd = tempDir('bcs-api-explicit-tls-');
    const certs = generateCerts();
    fs.writeFileSync(path.join(cwd, 'cert.pem'), certs.certPem);
    fs.writeFileSync(path.join(cwd, 'key.pem'), certs.keyPem, { mode: 0o600 });
    const config = zeroConfig(cwd, { BCS_API_PORT: '0', BCS_API_INSECURE_PORT: '0', BCS_API_TLS_CERT_FILE: 'cert.pem', BCS_API_TLS_KEY_FILE: 'key.pem' });
    assert.equal(config.autoTls, undefined);
    const app = await startApp({ ...config, plain: { address: '127.0.0.1', port: 0 } }, silent);
    try {
      assert.equal(fs.existsSync(path.join(cwd, 'data', 'tls')), false, 'no data/tls');
      const [httpsUrl, httpUrl] = app.listening.urls;
      assert.match(httpsUrl!, /^https:/);
      await registerCluster(() => app.runtime.context(), 'BCS-K8S-50002');
      const res = await gql(httpUrl!, app.defaultAdminToken, 'mutation { kubeconfig(clusterId: "BCS-K8S-50002") { kubeconfig server } }');
      assert.deepEqual(res.errors ?? [], []);
      const { kubeconfig, server } = res.data.kubeconfig as { kubeconfig: string; server: string };
      assert.ok(server.startsWith(`${httpsUrl}/tunnels/clusters/`), `the configured TLS listener (port 0 resolved): ${server}`);
      const doc = parseYaml(kubeconfig) as { clusters: { cluster: Record<string, string> }[] };
      assert.equal(Buffer.from(doc.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString(), certs.certPem);
    } finally {
      await app.stop();
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('generates nothing when turned off or with the original insecure_port layout', () => {
    const cwd = tempDir('bcs-api-no-auto-tls-');
    assert.equal(zeroConfig(cwd, { BCS_API_AUTO_TLS: 'false' }).autoTls, undefined);
    assert.equal(zeroConfig(cwd, { BCS_API_INSECURE_PORT: '8081' }).autoTls, undefined);
    assert.ok(zeroConfig(cwd, {}).autoTls, 'on by default');
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('refuses to start when its TLS port is taken, saying which setting moves it', async () => {
    const cwd = tempDir('bcs-api-tls-port-taken-');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const config = zeroConfig(cwd, { BCS_API_PORT: '0', BCS_API_AUTO_TLS_PORT: String(taken) });
      await assert.rejects(startApp(config, silent), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, new RegExp(`auto_tls\\.port: 127\\.0\\.0\\.1:${taken} is in use.*BCS_API_AUTO_TLS_PORT`));
        return true;
      });
    } finally {
      blocker.close();
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});
