/**
 * bcs-user-manager v1 under /bcsapi/v4/usermanager: the `{result, code, message, data}` envelope, the
 * admin / saas / plain users, cluster registration, and the agent's credential report.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/db';
import { startTestApp, type TestApp } from '../helpers/app';
import { agentReport, CA_PEM, call, RFC3339, SA_TOKEN, type Reply } from './rest-fixtures';

const UM = '/bcsapi/v4/usermanager/v1';

function ok(res: Reply): Record<string, any> {
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.body), ['result', 'code', 'message', 'data']);
  assert.equal(res.body.result, true);
  assert.equal(res.body.code, 0);
  assert.equal(res.body.message, 'success');
  return res.body.data;
}

function failed(res: Reply, status: number, code: number, message?: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(res.body, { result: false, code, message: res.body.message, data: null });
  assert.match(res.body.message, new RegExp(`^errcode: ${code}, `));
  if (message) assert.match(res.body.message, message);
}

for (const dialect of DIALECTS) {
  describe(`user-manager v1 on ${dialect}`, () => {
    let t: TestApp;
    let umAdmin = '';
    let saas = '';
    let plain = '';
    let registerToken = '';

    before(async () => {
      t = await startTestApp(dialect);
    });
    after(async () => t?.stop());

    it('creates an admin user whose token is a super user token', async () => {
      const data = ok(await call(t.url, 'POST', `${UM}/users/admin/ops`, { token: t.adminToken }));
      assert.deepEqual(Object.keys(data), ['id', 'name', 'user_type', 'user_token', 'created_by', 'created_at', 'updated_at', 'expires_at', 'deleted_at']);
      assert.equal(data.name, 'ops');
      assert.equal(data.user_type, 1);
      assert.equal(data.created_by, 'admin');
      assert.equal(data.deleted_at, null);
      assert.match(data.expires_at, RFC3339);
      umAdmin = data.user_token;
      // The new admin may read /rest secrets-only routes: it is a super user.
      const users = await call(t.url, 'GET', '/rest/users/nobody', { token: umAdmin });
      assert.equal(users.status, 404, users.text);
    });

    it('lets admins create saas users, and saas users create plain ones (but not admins)', async () => {
      const s = ok(await call(t.url, 'POST', `${UM}/users/saas/paas-app`, { token: umAdmin }));
      assert.equal(s.user_type, 2);
      saas = s.user_token;
      const p = ok(await call(t.url, 'POST', `${UM}/users/plain/carol`, { token: saas }));
      assert.equal(p.user_type, 3);
      assert.ok(Date.parse(p.expires_at) - Date.now() <= 24 * 3600 * 1000 + 5000, 'plain tokens last 24 h');
      plain = p.user_token;
      failed(await call(t.url, 'POST', `${UM}/users/admin/mallory`, { token: saas }), 403, 1405058, /only admin users/);
      failed(await call(t.url, 'POST', `${UM}/users/saas/mallory`, { token: plain }), 403, 1405058);
      failed(await call(t.url, 'POST', `${UM}/users/plain/carol`, { token: saas }), 400, 1405061, /already exists/);
    });

    it('reads a user with a newly issued token, and refreshes tokens', async () => {
      const read = ok(await call(t.url, 'GET', `${UM}/users/plain/carol`, { token: saas }));
      assert.notEqual(read.user_token, plain);
      assert.equal((await call(t.url, 'GET', `${UM}/clusters/credentials`, { token: read.user_token })).status, 403, 'the new token authenticates as carol');
      failed(await call(t.url, 'GET', `${UM}/users/saas/carol`, { token: umAdmin }), 404, 1405061, /saas user carol not found/);

      const refreshed = ok(await call(t.url, 'PUT', `${UM}/users/plain/carol/refresh/3`, { token: saas }));
      const ttl = Date.parse(refreshed.expires_at) - Date.now();
      assert.ok(ttl > 2.9 * 86400e3 && ttl <= 3 * 86400e3 + 5000, `expire_time is in days (${ttl})`);
      failed(await call(t.url, 'PUT', `${UM}/users/plain/carol/refresh/0`, { token: saas }), 400, 1405061, /'expire_time'/);

      // A saas refresh replaces the saas user's earlier token, as the original did.
      const newSaas = ok(await call(t.url, 'PUT', `${UM}/users/saas/paas-app/refresh`, { token: umAdmin }));
      failed(await call(t.url, 'GET', `${UM}/users/plain/carol`, { token: saas }), 401, 1405059);
      saas = newSaas.user_token;
      ok(await call(t.url, 'GET', `${UM}/users/plain/carol`, { token: saas }));
    });

    it('registers a cluster under the id given and hands out its register token (single object)', async () => {
      const c = ok(await call(t.url, 'POST', `${UM}/clusters`, { token: umAdmin, json: { cluster_id: 'BCS-K8S-UM1', cluster_type: 'k8s' } }));
      assert.deepEqual(c, { id: 'BCS-K8S-UM1', cluster_type: 1, tke_cluster_id: '', tke_cluster_region: '', creator_id: c.creator_id, created_at: c.created_at });
      assert.ok(c.creator_id > 0);
      failed(await call(t.url, 'POST', `${UM}/clusters`, { token: umAdmin, json: { cluster_id: 'BCS-K8S-UM2' } }), 400, 1405061, /'cluster_type'/);
      failed(await call(t.url, 'POST', `${UM}/clusters`, { token: umAdmin, json: { cluster_id: 'BCS-K8S-UM1', cluster_type: 'k8s' } }), 400, 1405061, /already exists/);
      failed(await call(t.url, 'POST', `${UM}/clusters`, { token: saas, json: { cluster_id: 'X', cluster_type: 'k8s' } }), 403, 1405058);

      const rt = ok(await call(t.url, 'POST', `${UM}/clusters/BCS-K8S-UM1/register_tokens`, { token: umAdmin }));
      assert.deepEqual(Object.keys(rt), ['id', 'cluster_id', 'token', 'created_at']);
      assert.match(rt.token, /^[A-Za-z0-9]{128}$/);
      registerToken = rt.token;
      assert.deepEqual(ok(await call(t.url, 'GET', `${UM}/clusters/BCS-K8S-UM1/register_tokens`, { token: umAdmin })), rt);
      failed(await call(t.url, 'GET', `${UM}/clusters/BCS-K8S-UM1/register_tokens`, { token: saas }), 403, 1405058);
      failed(await call(t.url, 'GET', `${UM}/clusters/NOPE/register_tokens`, { token: umAdmin }), 404, 1405060);
    });

    it('accepts the agent report and serves the credentials to admins only', async () => {
      failed(await call(t.url, 'PUT', `${UM}/clusters/BCS-K8S-UM1/credentials`, { json: agentReport('W'.repeat(128)) }), 400, 1405061, /invalid register token given/);
      failed(await call(t.url, 'PUT', `${UM}/clusters/BCS-K8S-UM1/credentials`, { json: { register_token: registerToken } }), 400, 1405061, /'server_addresses'/);
      const put = await call(t.url, 'PUT', `${UM}/clusters/BCS-K8S-UM1/credentials`, { json: agentReport(registerToken) });
      assert.equal(ok(put), null);

      const one = ok(await call(t.url, 'GET', `${UM}/clusters/BCS-K8S-UM1/credentials`, { token: umAdmin }));
      assert.deepEqual(Object.keys(one), ['id', 'cluster_id', 'server_addresses', 'ca_cert_data', 'user_token', 'cluster_domain', 'created_at', 'updated_at']);
      assert.equal(one.server_addresses, 'https://10.0.0.1:6443;https://10.0.0.2:6443');
      assert.equal(one.ca_cert_data, CA_PEM);
      assert.equal(one.user_token, SA_TOKEN);

      const all = ok(await call(t.url, 'GET', `${UM}/clusters/credentials`, { token: umAdmin }));
      assert.deepEqual(all, { 'BCS-K8S-UM1': { server_addresses: one.server_addresses, ca_cert_data: CA_PEM, user_token: SA_TOKEN, cluster_domain: '' } });

      // carol's first token still works after her refresh (plain refresh keeps earlier tokens), but she is no admin.
      failed(await call(t.url, 'GET', `${UM}/clusters/BCS-K8S-UM1/credentials`, { token: plain }), 403, 1405058, /only admin users/);
      failed(await call(t.url, 'GET', `${UM}/clusters/credentials`, { token: saas }), 403, 1405058);
    });

    it('answers anonymous calls, unknown routes and bad JSON in the envelope', async () => {
      failed(await call(t.url, 'GET', `${UM}/clusters/credentials`), 401, 1405059, /anonymous/);
      failed(await call(t.url, 'GET', `${UM}/permissions`, { token: umAdmin }), 404, 1405061, /no route/);
      failed(await call(t.url, 'POST', `${UM}/clusters`, { token: umAdmin, raw: '{"cluster_id":', contentType: 'application/json' }), 400, 1405007, /not valid JSON/);
    });
  });
}
