/**
 * Smaller compatibility points of /rest: the gateway CA in client credentials when TLS is on, plain
 * clusters, lookups by cluster id, trailing slashes as the original registered them, and
 * re-reports that update stored credentials.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/db';
import { startTestApp, tempDir, type TestApp } from '../helpers/app';
import { agentReport, CA_PEM, call, GATEWAY_CERT_PEM, GATEWAY_KEY_PEM, OTHER_CA_PEM, OTHER_SA_TOKEN } from './rest-fixtures';

for (const dialect of DIALECTS) {
  describe(`REST compatibility on ${dialect} (TLS configured)`, () => {
    let t: TestApp;
    let url = '';
    const certDir = tempDir('bcs-api-rest-tls-');

    before(async () => {
      const certFile = path.join(certDir, 'server.crt');
      const keyFile = path.join(certDir, 'server.key');
      fs.writeFileSync(certFile, GATEWAY_CERT_PEM);
      fs.writeFileSync(keyFile, GATEWAY_KEY_PEM, { mode: 0o600 });
      t = await startTestApp(dialect, { tls: { certFile, keyFile, verifyClientTls: false, address: '127.0.0.1', port: 0 } });
      // The suite talks over the plain listener; the TLS one only has to be configured.
      url = t.app.listening.urls.find((u) => u.startsWith('http:'))!;
    });
    after(async () => {
      await t?.stop();
      fs.rmSync(certDir, { recursive: true, force: true });
    });

    it('creates plain clusters (provider 1) with or without the trailing slash, and finds them by id', async () => {
      const a = await call(url, 'POST', '/rest/clusters/', { token: t.adminToken, json: { id: 'plain-one' } });
      assert.equal(a.status, 200, a.text);
      assert.equal(a.body.provider, 1);
      const b = await call(url, 'POST', '/rest/clusters', { token: t.adminToken, json: { id: 'plain-two' } });
      assert.equal(b.status, 200, b.text);
      const found = await call(url, 'GET', '/rest/clusters/bcs/query_by_cluster_id/?cluster_id=plain-one', { token: t.adminToken });
      assert.equal(found.status, 200, found.text);
      assert.equal(found.body.identifier, a.body.identifier);
      const missing = await call(url, 'GET', '/rest/clusters/bcs/query_by_cluster_id/?cluster_id=nope', { token: t.adminToken });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code_name, 'CLUSTER_NOT_FOUND');
      // Unlike the original, this lookup needs a token.
      assert.equal((await call(url, 'GET', '/rest/clusters/bcs/query_by_cluster_id/?cluster_id=plain-one')).status, 401);
    });

    it("returns the gateway's CA in client credentials, never the cluster's", async () => {
      const rt = await call(url, 'POST', '/rest/clusters/plain-one/register_tokens/', { token: t.adminToken });
      assert.equal(rt.status, 200, rt.text);
      assert.equal((await call(url, 'PUT', '/rest/clusters/plain-one/credentials', { json: agentReport(rt.body[0].token) })).status, 200);
      const cc = await call(url, 'GET', '/rest/clusters/plain-one/client_credentials', { token: t.adminToken });
      assert.equal(cc.status, 200, cc.text);
      assert.equal(cc.body.cacert_data, GATEWAY_CERT_PEM);
      assert.notEqual(cc.body.cacert_data, CA_PEM);
      // Asked over the plain listener, it still names the TLS one: kubectl sends tokens only over TLS.
      const httpsUrl = t.app.listening.urls.find((u) => u.startsWith('https:'))!;
      assert.equal(cc.body.server_address, `${httpsUrl}${cc.body.server_address_path}`);
    });

    it('replaces stored credentials on a later valid report', async () => {
      const rt = await call(url, 'GET', '/rest/clusters/plain-one/register_tokens', { token: t.adminToken });
      const report = { ...agentReport(rt.body[0].token, OTHER_CA_PEM, OTHER_SA_TOKEN), server_addresses: 'https://10.0.0.9:6443' };
      assert.equal((await call(url, 'PUT', '/rest/clusters/plain-one/credentials', { json: report })).status, 200);
      const creds = await call(url, 'GET', '/rest/clusters/plain-one/credentials', { token: t.adminToken });
      assert.equal(creds.body.ServerAddresses, 'https://10.0.0.9:6443');
      assert.equal(creds.body.CaCertData, OTHER_CA_PEM);
      assert.equal(creds.body.UserToken, OTHER_SA_TOKEN);
    });
  });
}
