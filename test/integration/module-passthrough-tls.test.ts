/**
 * https modules: the gateway verifies them with `ca_file` and presents `client_cert_file`/`client_key_file`,
 * as the original's client TLS config did; a module whose certificate another CA signed is refused (502).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app';
import { generateCerts } from '../helpers/fake-kube/certs';
import { ModuleRegistration } from '../helpers/fake-modules';
import { generateModuleCerts, type ModuleCerts } from '../helpers/module-certs';
import { waitFor, ZooKeeperServer } from '../helpers/zookeeper';
import { envelopeOf, send } from './module-passthrough-fixtures';

describe('/bcsapi/v4 module passthroughs to https modules', () => {
  let zk: ZooKeeperServer;
  let gw: TestApp;
  let certs: ModuleCerts;
  const servers: https.Server[] = [];
  const registrations: ModuleRegistration[] = [];
  const clientNames: string[] = [];

  /** An https module that requires a client certificate from the module CA and reports its name. */
  const httpsModule = async (module: string, serving: { certPem: string; keyPem: string }): Promise<void> => {
    const server = https.createServer({ cert: serving.certPem, key: serving.keyPem, ca: certs.read('ca.crt'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      clientNames.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    registrations.push(await ModuleRegistration.register(zk.connectString, module, { ip: '127.0.0.1', port: (server.address() as AddressInfo).port, scheme: 'https' }));
  };

  before(async () => {
    certs = generateModuleCerts();
    zk = await ZooKeeperServer.start();
    gw = await startTestApp('sqlite', {
      zookeeper: zk.connectString,
      zookeeperClient: { sessionTimeoutSeconds: 4 },
      upstreamCaFile: certs.file('ca.crt'),
      clientTls: { certFile: certs.file('client.crt'), keyFile: certs.file('client.key') },
    });
    await httpsModule('netservice', { certPem: certs.read('server.crt'), keyPem: certs.read('server.key') });
    // Signed by a CA the gateway was not given.
    await httpsModule('clusterkeeper', generateCerts());
  });
  after(async () => {
    for (const r of registrations) r.close();
    for (const s of servers) s.close();
    await gw?.stop();
    await zk?.dispose();
    fs.rmSync(certs.dir, { recursive: true, force: true });
  });

  const admin = (path: string) => send(gw.url, 'GET', path, { authorization: `Bearer ${gw.adminToken}` });

  it('verifies the module with ca_file and authenticates with the client certificate', async () => {
    const res = await waitFor('netservice discovered', async () => {
      const r = await admin('/bcsapi/v4/netservice/pools?cluster=A');
      return r.status === 200 ? r : undefined;
    });
    assert.deepEqual(JSON.parse(res.body), { url: '/v1/pools?cluster=A' });
    assert.deepEqual(clientNames, ['bcs-api-client']);
  });

  it('refuses a module whose certificate the configured CA did not sign: 502 with 1405053', async () => {
    const res = await waitFor('clusterkeeper discovered', async () => {
      const r = await admin('/bcsapi/v4/clusterkeeper/nodes');
      return r.status === 502 ? r : undefined;
    });
    assert.deepEqual(envelopeOf(res), { result: false, code: 1405053, data: null });
    assert.equal(clientNames.length, 1, 'no request reached the untrusted module');
  });

  it("counts requests under the original's type labels", async () => {
    const text = (await send(gw.url, 'GET', '/metrics', {})).body;
    assert.match(text, /^bcs_api_request_count_total\{type="net_service",method="GET"\} [1-9]/m);
    assert.match(text, /^bcs_api_request_err_count_total\{type="cluster_keeper",method="GET"\} [1-9]/m);
    assert.match(text, /^bcs_api_proxy_upstream_errors_total\{reason="tls"\} [1-9]/m);
  });
});
