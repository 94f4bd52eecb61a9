/**
 * Replays the original bcs-api documentation over HTTP: a user and its token, a BCS cluster, a register
 * token, the agent's credential report, and the client credentials kubectl uses. Then reads every table
 * raw and checks that no secret handed out or reported along the way is stored in plaintext.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/db';
import { startTestApp, type TestApp } from '../helpers/app';
import { agentReport, CA_PEM, call, pemBody, RFC3339, SA_TOKEN } from './rest-fixtures';

async function tableNames(t: TestApp): Promise<string[]> {
  const conn = t.app.runtime.orm.em.fork().getConnection();
  const rows: Record<string, string>[] =
    t.app.runtime.config.database.dialect === 'sqlite'
      ? await conn.execute("select name from sqlite_master where type = 'table'")
      : await conn.execute('show tables');
  return rows.map((r) => Object.values(r)[0]!);
}

async function dumpAll(t: TestApp): Promise<string> {
  const conn = t.app.runtime.orm.em.fork().getConnection();
  const parts: string[] = [];
  for (const table of await tableNames(t)) {
    const rows = await conn.execute(`select * from ${table}`);
    parts.push(`${table}: ${JSON.stringify(rows)}`);
  }
  return parts.join('\n');
}

for (const dialect of DIALECTS) {
  describe(`REST walkthrough on ${dialect}`, () => {
    let t: TestApp;
    const secrets: string[] = [];
    const clusterId = 'BCS-K8S-15007';
    let userId = 0;
    let userToken = '';
    let registerToken = '';
    let identifier = '';

    before(async () => {
      t = await startTestApp(dialect);
      secrets.push(t.adminToken);
    });
    after(async () => t?.stop());

    it('creates a user under plain:<user_name> and reads it back (Go field names)', async () => {
      const created = await call(t.url, 'POST', '/rest/users/', { token: t.adminToken, json: { user_name: 'alice' } });
      assert.equal(created.status, 200, created.text);
      assert.deepEqual(Object.keys(created.body), ['ID', 'Name', 'IsSuperUser', 'CreatedAt', 'BackendType', 'BackendCredentials']);
      assert.equal(created.body.Name, 'plain:alice');
      assert.equal(created.body.IsSuperUser, false);
      assert.match(created.body.CreatedAt, RFC3339);
      userId = created.body.ID;

      // Super-user routes also take the token as a basic-auth password, like the original.
      const read = await call(t.url, 'GET', '/rest/users/alice', { basic: ['admin', t.adminToken] });
      assert.equal(read.status, 200, read.text);
      assert.equal(read.body.ID, userId);
      assert.equal(read.body.Name, 'plain:alice');
    });

    it("issues the user's token, which then works as a bearer", async () => {
      const res = await call(t.url, 'POST', `/rest/users/${userId}/tokens`, { token: t.adminToken });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.body), ['ID', 'UserId', 'Type', 'Value', 'ExpiresAt', 'CreatedAt']);
      assert.equal(res.body.UserId, userId);
      assert.equal(res.body.Type, 3);
      assert.match(res.body.Value, /^bcs_[A-Za-z0-9]{32}$/);
      assert.ok(Date.parse(res.body.ExpiresAt) > Date.now() + 300 * 24 * 3600 * 1000, 'long-lived like the original plain token');
      userToken = res.body.Value;
      secrets.push(userToken);

      // The token authenticates as alice: a super-user route now answers 403 (authenticated, not allowed), not 401.
      const asAlice = await call(t.url, 'GET', '/rest/users/alice', { token: userToken });
      assert.equal(asAlice.status, 403, asAlice.text);
      assert.equal(asAlice.body.code_name, 'FORBIDDEN');
    });

    it('creates a BCS cluster under the id given', async () => {
      const res = await call(t.url, 'POST', '/rest/clusters/bcs', {
        token: t.adminToken,
        json: { id: clusterId, project_id: 'proj-1', cluster_type: 'k8s' },
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.body), ['id', 'provider', 'creator_id', 'identifier', 'created_at']);
      assert.equal(res.body.id, clusterId);
      assert.equal(res.body.provider, 2);
      assert.equal(typeof res.body.creator_id, 'number');
      assert.ok(res.body.creator_id > 0);
      assert.match(res.body.identifier, /^bcs-k8s-15007-[a-z0-9]{16}$/);
      assert.match(res.body.created_at, RFC3339);
      identifier = res.body.identifier;

      // Any authenticated user (alice's token) may look it up by project and id.
      const found = await call(t.url, 'GET', `/rest/clusters/bcs/query_by_id/?project_id=proj-1&cluster_id=${clusterId}`, { token: userToken });
      assert.equal(found.status, 200, found.text);
      assert.equal(found.body.identifier, identifier);
      const wrongProject = await call(t.url, 'GET', `/rest/clusters/bcs/query_by_id/?project_id=proj-2&cluster_id=${clusterId}`, { token: userToken });
      assert.equal(wrongProject.status, 404);
      assert.equal(wrongProject.body.code_name, 'CLUSTER_NOT_FOUND');
    });

    it('creates the register token and reads the same one back', async () => {
      const created = await call(t.url, 'POST', `/rest/clusters/${clusterId}/register_tokens`, { token: t.adminToken });
      assert.equal(created.status, 200, created.text);
      assert.equal(created.body.length, 1);
      assert.deepEqual(Object.keys(created.body[0]), ['id', 'cluster_id', 'token', 'created_at']);
      assert.equal(created.body[0].cluster_id, clusterId);
      assert.match(created.body[0].token, /^[A-Za-z0-9]{128}$/);
      registerToken = created.body[0].token;
      secrets.push(registerToken);

      const read = await call(t.url, 'GET', `/rest/clusters/${clusterId}/register_tokens`, { token: t.adminToken });
      assert.equal(read.status, 200, read.text);
      assert.deepEqual(read.body, created.body);
    });

    it('accepts the credential report exactly as bcs-kube-agent sends it (no Authorization)', async () => {
      const res = await call(t.url, 'PUT', `/rest/clusters/${clusterId}/credentials`, { json: agentReport(registerToken) });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {});

      const creds = await call(t.url, 'GET', `/rest/clusters/${clusterId}/credentials`, { token: t.adminToken });
      assert.equal(creds.status, 200, creds.text);
      assert.deepEqual(Object.keys(creds.body), ['ID', 'ClusterId', 'ServerAddresses', 'CaCertData', 'UserToken', 'ClusterDomain', 'CreatedAt', 'UpdatedAt']);
      assert.equal(creds.body.ClusterId, clusterId);
      assert.equal(creds.body.ServerAddresses, 'https://10.0.0.1:6443;https://10.0.0.2:6443');
      assert.equal(creds.body.CaCertData, CA_PEM);
      assert.equal(creds.body.UserToken, SA_TOKEN);
      assert.equal(creds.body.ClusterDomain, '');
      assert.match(creds.body.UpdatedAt, RFC3339);

      // The reporter's address is recorded for the audit trail.
      const rows: { reporter_address: string }[] = await t.app.runtime.orm.em.fork().getConnection().execute('select reporter_address from cluster_credentials');
      assert.equal(rows.length, 1);
      assert.match(rows[0]!.reporter_address, /127\.0\.0\.1$/);
    });

    it('hands out client credentials: the tunnel path and a fresh working token, never the cluster CA', async () => {
      const res = await call(t.url, 'GET', `/rest/clusters/${clusterId}/client_credentials`, { token: userToken });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.body).sort(), ['cacert_data', 'cluster_id', 'server_address', 'server_address_path', 'user_token']);
      assert.equal(res.body.cluster_id, clusterId);
      assert.equal(res.body.server_address_path, `/tunnels/clusters/${identifier}/`);
      assert.equal(res.body.server_address, `${t.url}/tunnels/clusters/${identifier}/`, 'no TLS: the URL the request came in on');
      assert.equal(res.body.cacert_data, '', 'no TLS configured: no gateway CA, and never the cluster CA');
      assert.match(res.body.user_token, /^bcs_[A-Za-z0-9]{32}$/);
      assert.notEqual(res.body.user_token, userToken);
      secrets.push(res.body.user_token);

      const again = await call(t.url, 'GET', `/rest/clusters/bcs/query_by_id/?project_id=proj-1&cluster_id=${clusterId}`, { token: res.body.user_token });
      assert.equal(again.status, 200, 'the issued token works as a bearer');
    });

    it('stores none of those secrets in plaintext', async () => {
      const dump = await dumpAll(t);
      for (const table of ['users', 'api_tokens', 'clusters', 'register_tokens', 'cluster_credentials']) assert.match(dump, new RegExp(`^${table}: \\[\\{`, 'm'), `${table} has rows`);
      assert.ok(secrets.length >= 4);
      for (const s of [...secrets, SA_TOKEN]) assert.ok(!dump.includes(s), `a secret (${s.slice(0, 6)}…) is stored in plaintext`);
      for (const line of CA_PEM.split('\n').filter((l) => l && !l.startsWith('-----'))) assert.ok(!dump.includes(line), 'a CA PEM line is stored in plaintext');
      assert.ok(!dump.includes(pemBody(CA_PEM).slice(20, 60)));
    });
  });
}
