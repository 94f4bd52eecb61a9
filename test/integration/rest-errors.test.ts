/**
 * The /rest error surface: the original's `{code_name, message}` bodies, validation as HTTP 400 naming
 * the field, register-token failures that leave stored credentials untouched, super-user-only secrets,
 * and request bodies that are not JSON.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/db';
import { startTestApp, type TestApp } from '../helpers/app';
import { agentReport, call, OTHER_CA_PEM, OTHER_SA_TOKEN, type Reply } from './rest-fixtures';

function assertError(res: Reply, status: number, codeName: string, message?: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body), ['code_name', 'message']);
  assert.equal(res.body.code_name, codeName);
  assert.match(res.body.message, /^errcode: 14050\d\d, /);
  if (message) assert.match(res.body.message, message);
}

for (const dialect of DIALECTS) {
  describe(`REST errors on ${dialect}`, () => {
    let t: TestApp;
    const clusterId = 'BCS-K8S-ERR';
    let registerToken = '';
    let bobToken = '';
    let storedRow = '';

    const rawCredentialRow = async (): Promise<string> =>
      JSON.stringify(await t.app.runtime.orm.em.fork().getConnection().execute('select * from cluster_credentials'));

    before(async () => {
      t = await startTestApp(dialect);
      const bob = await call(t.url, 'POST', '/rest/users/', { token: t.adminToken, json: { user_name: 'bob' } });
      const tok = await call(t.url, 'POST', `/rest/users/${bob.body.ID}/tokens`, { token: t.adminToken });
      bobToken = tok.body.Value;
      await call(t.url, 'POST', '/rest/clusters/bcs', { token: t.adminToken, json: { id: clusterId, project_id: 'p1' } });
      const rt = await call(t.url, 'POST', `/rest/clusters/${clusterId}/register_tokens`, { token: t.adminToken });
      registerToken = rt.body[0].token;
      const report = await call(t.url, 'PUT', `/rest/clusters/${clusterId}/credentials`, { json: agentReport(registerToken) });
      assert.equal(report.status, 200, report.text);
      storedRow = await rawCredentialRow();
    });
    after(async () => t?.stop());

    it('rejects a wrong register token with 400 INVALID_RTOKEN and changes nothing stored', async () => {
      const wrong = 'X'.repeat(128);
      const res = await call(t.url, 'PUT', `/rest/clusters/${clusterId}/credentials`, { json: agentReport(wrong, OTHER_CA_PEM, OTHER_SA_TOKEN) });
      assertError(res, 400, 'INVALID_RTOKEN', /^errcode: 1405061, invalid register token given$/);
      assert.ok(!res.text.includes(wrong));
      assert.equal(await rawCredentialRow(), storedRow, 'credentials row unchanged');
      const creds = await call(t.url, 'GET', `/rest/clusters/${clusterId}/credentials`, { token: t.adminToken });
      assert.notEqual(creds.body.UserToken, OTHER_SA_TOKEN);
    });

    it('answers an unknown cluster like one without a register token (no existence probe)', async () => {
      const res = await call(t.url, 'PUT', '/rest/clusters/NO-SUCH/credentials', { json: agentReport(registerToken) });
      assertError(res, 400, 'RTOKEN_NOT_FOUND', /no valid register token found for cluster/);
      await call(t.url, 'POST', '/rest/clusters/bcs', { token: t.adminToken, json: { id: 'NO-TOKEN', project_id: 'p1' } });
      const none = await call(t.url, 'PUT', '/rest/clusters/NO-TOKEN/credentials', { json: agentReport(registerToken) });
      assertError(none, 400, 'RTOKEN_NOT_FOUND');
    });

    it('reports validation failures as 400 VALIDATION_ERROR naming the field, before anything is written', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ ...agentReport(registerToken), server_addresses: undefined }, 'server_addresses'],
        [{ ...agentReport(registerToken), server_addresses: 'https://a:6443;not a url' }, 'server_addresses'],
        [{ ...agentReport(registerToken), cacert_data: 'not a certificate' }, 'cacert_data'],
        [{ ...agentReport(registerToken), user_token: '' }, 'user_token'],
        [{ ...agentReport(registerToken), register_token: 42 }, 'register_token'],
      ];
      for (const [body, field] of cases) {
        const res = await call(t.url, 'PUT', `/rest/clusters/${clusterId}/credentials`, { json: body });
        assertError(res, 400, 'VALIDATION_ERROR', new RegExp(`'${field}'`));
      }
      assert.equal(await rawCredentialRow(), storedRow);

      assertError(await call(t.url, 'POST', '/rest/users/', { token: t.adminToken, json: {} }), 400, 'VALIDATION_ERROR', /^errcode: 1405061, field 'user_name' is required$/);
      assertError(await call(t.url, 'POST', '/rest/clusters/bcs', { token: t.adminToken, json: { id: 'C-2' } }), 400, 'VALIDATION_ERROR', /'project_id'/);
      assertError(await call(t.url, 'POST', '/rest/clusters/bcs', { token: t.adminToken, json: { project_id: 'p' } }), 400, 'VALIDATION_ERROR', /'id'/);
      assertError(await call(t.url, 'POST', '/rest/clusters/bcs', { token: t.adminToken, json: { id: 'C-3', project_id: 'p', cluster_type: 'swarm' } }), 400, 'CLUSTER_TYPE_INVALID', /cluster_type/);
      assertError(await call(t.url, 'GET', '/rest/clusters/bcs/query_by_id/?cluster_id=x', { token: bobToken }), 400, 'VALIDATION_ERROR', /'project_id'/);
    });

    it('rejects bodies that are not JSON objects with 400 naming the problem, without echoing them', async () => {
      const broken = `{"register_token": "${registerToken}", oops`;
      const res = await call(t.url, 'PUT', `/rest/clusters/${clusterId}/credentials`, { raw: broken, contentType: 'application/json' });
      assertError(res, 400, 'INVALID_JSON', /not valid JSON/);
      assert.ok(!res.text.includes(registerToken));
      assertError(await call(t.url, 'PUT', `/rest/clusters/${clusterId}/credentials`, { json: [agentReport(registerToken)] }), 400, 'INVALID_JSON', /must be a JSON object/);
      assertError(await call(t.url, 'PUT', `/rest/clusters/${clusterId}/credentials`, { raw: 'register_token=x', contentType: 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
      assert.equal(await rawCredentialRow(), storedRow);
    });

    it('keeps cluster secrets and register tokens to super users', async () => {
      for (const [method, path] of [
        ['GET', `/rest/clusters/${clusterId}/credentials`],
        ['GET', `/rest/clusters/${clusterId}/register_tokens`],
        ['POST', `/rest/clusters/${clusterId}/register_tokens`],
        ['POST', '/rest/users/'],
        ['GET', '/rest/users/bob'],
      ] as const) {
        const res = await call(t.url, method, path, { token: bobToken, json: method === 'POST' ? { user_name: 'eve' } : undefined });
        assertError(res, 403, 'FORBIDDEN', /^errcode: 1405058, only super users may /);
        assert.ok(!res.text.includes(registerToken));
      }
      assertError(
        await call(t.url, 'POST', '/rest/clusters/bcs', { token: bobToken, json: { id: 'BOBS', project_id: 'p' } }),
        403,
        'FORBIDDEN',
        /create clusters/,
      );
      // ...but any user gets client credentials for themself.
      const cc = await call(t.url, 'GET', `/rest/clusters/${clusterId}/client_credentials`, { token: bobToken });
      assert.equal(cc.status, 200, cc.text);
    });

    it('answers anonymous and unknown tokens with 401 UNAUTHORIZED and never echoes the token', async () => {
      assertError(await call(t.url, 'GET', `/rest/clusters/${clusterId}/client_credentials`), 401, 'UNAUTHORIZED', /^errcode: 1405059, anonymous/);
      const bogus = 'bcs_' + 'Z'.repeat(32);
      const res = await call(t.url, 'GET', `/rest/clusters/${clusterId}/client_credentials`, { token: bogus });
      assertError(res, 401, 'UNAUTHORIZED');
      assert.ok(!res.text.includes(bogus));
      const basic = await call(t.url, 'GET', '/rest/users/bob', { basic: ['admin', bogus] });
      assertError(basic, 401, 'UNAUTHORIZED');
      // Basic auth is for the super-user routes only, as in the original.
      assertError(await call(t.url, 'GET', `/rest/clusters/${clusterId}/client_credentials`, { basic: ['admin', t.adminToken] }), 401, 'UNAUTHORIZED');
    });

    it('uses the original code_names for missing things and conflicts', async () => {
      assertError(await call(t.url, 'GET', '/rest/users/ghost', { token: t.adminToken }), 404, 'USER_NOT_FOUND', /user with user_name=ghost not found/);
      assertError(await call(t.url, 'POST', '/rest/users/abc/tokens', { token: t.adminToken }), 400, 'USER_ID_INVALID');
      assertError(await call(t.url, 'POST', '/rest/users/99999/tokens', { token: t.adminToken }), 404, 'USER_NOT_FOUND');
      assertError(await call(t.url, 'POST', '/rest/users/', { token: t.adminToken, json: { user_name: 'bob' } }), 400, 'USER_ALREADY_EXISTS');
      assertError(await call(t.url, 'POST', '/rest/clusters/bcs', { token: t.adminToken, json: { id: clusterId, project_id: 'p1' } }), 400, 'CLUSTER_ALREADY_EXISTS');
      assertError(await call(t.url, 'POST', `/rest/clusters/${clusterId}/register_tokens`, { token: t.adminToken }), 400, 'CANNOT_CREATE_RTOKEN', /token already exists/);
      assertError(await call(t.url, 'GET', '/rest/clusters/NOPE/client_credentials', { token: bobToken }), 404, 'CLUSTER_NOT_FOUND', /^errcode: 1405060, cluster NOPE not found$/);
      assertError(await call(t.url, 'GET', '/rest/clusters/NO-TOKEN/client_credentials', { token: bobToken }), 400, 'CREDENTIALS_NOT_FOUND', /no credentials found/);
      assertError(await call(t.url, 'GET', '/rest/clusters/NO-TOKEN/credentials', { token: t.adminToken }), 400, 'CREDENTIALS_NOT_FOUND');
      assertError(await call(t.url, 'GET', '/rest/clusters/NO-TOKEN/register_tokens', { token: t.adminToken }), 400, 'RTOKEN_NOT_FOUND', /register token not found/);
    });

    it('answers unknown routes with 404 and wrong methods with 405 in the /rest style', async () => {
      assertError(await call(t.url, 'GET', '/rest/nothing/here', { token: t.adminToken }), 404, 'NOT_FOUND');
      assertError(await call(t.url, 'GET', '/rest', { token: t.adminToken }), 404, 'NOT_FOUND');
      const res = await call(t.url, 'DELETE', `/rest/clusters/${clusterId}/credentials`, { token: t.adminToken });
      assertError(res, 405, 'METHOD_NOT_ALLOWED');
      assert.equal(res.headers.get('allow'), 'PUT, GET');
    });
  });
}
