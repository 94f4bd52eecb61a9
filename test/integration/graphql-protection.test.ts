import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { codes, gql } from './graphql-fixtures';

for (const dialect of DIALECTS) {
  describe(`GraphQL request protections on ${dialect}`, () => {
    let t: TestApp;

    before(async () => {
      t = await startTestApp(dialect);
    });
    after(async () => t?.stop());

    it('rejects operations deeper than graphql.max_depth before executing them', async () => {
      assert.equal(t.app.runtime.config.graphql.maxDepth, 10);
      const deep = `{ __type(name: "Query") { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }`;
      const res = await gql(t.url, t.adminToken, deep);
      assert.equal(res.status, 400);
      assert.deepEqual(codes(res), ['GRAPHQL_VALIDATION_FAILED']);
      assert.deepEqual(res.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'depth', max: 10, found: 11 });
      assert.equal(res.errors[0]!.message, 'depth limit exceeded: the operation is 11 levels deep, 1 over the limit of 10');
      assert.equal(res.data, null);
    });

    it('prices page sizes given as variables, so aliased large pages are refused before they load', async () => {
      const page = (alias: string) => `${alias}: users(first: $n) { edges { node { id name groups isSuperUser } } }`;
      // Each page of 500 users costs 1,001 (rows, not fields): six are over the 5,000 limit.
      const query = `query($n: Int) { ${['a', 'b', 'c', 'd', 'e', 'f'].map(page).join(' ')} }`;
      const big = await gql(t.url, t.adminToken, query, { n: 500 });
      assert.equal(big.status, 400);
      assert.deepEqual(codes(big), ['GRAPHQL_VALIDATION_FAILED']);
      assert.equal(big.errors[0]!.extensions!.limit, 'cost');
      assert.match(big.errors[0]!.message, /^cost limit exceeded: the operation costs (\d+), \d+ over the limit of 5000; ask for smaller pages \(first\), following pageInfo.endCursor with after/);
      assert.equal(big.data ?? null, null);
      const small = await gql(t.url, t.adminToken, query, { n: 20 });
      assert.deepEqual(small.errors ?? [], []);
      assert.ok(small.data.a.edges.length >= 1);
    });

    it('rejects more aliases than graphql.max_aliases', async () => {
      const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: viewer { name }`).join(' ');
      const res = await gql(t.url, t.adminToken, `{ ${aliases} }`);
      assert.equal(res.status, 400);
      assert.deepEqual(codes(res), ['GRAPHQL_VALIDATION_FAILED']);
      assert.deepEqual(res.errors[0]!.extensions, { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'aliases', max: 15, found: 16 });
      assert.equal(res.errors[0]!.message, 'aliases limit exceeded: the operation has 16 aliases, 1 over the limit of 15');
    });

    it('blocks a simple cross-site POST (text/plain, no preflight header) before it runs', async () => {
      const body = JSON.stringify({ query: 'mutation { createUser(input: { name: "csrf-victim" }) { id } }' });
      const res = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${t.adminToken}` }, body });
      assert.equal(res.status, 400);
      const payload = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
      assert.match(payload.errors[0]!.message, /Cross-Site Request Forgery/);
      assert.equal(payload.errors[0]!.extensions.code, 'BAD_REQUEST');
      const users = await gql(t.url, t.adminToken, '{ users(filter: { nameContains: "csrf-victim" }) { totalCount } }');
      assert.equal(users.data.users.totalCount, 0);
      const get = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ viewer { name } }')}`, { headers: { authorization: `Bearer ${t.adminToken}` } });
      assert.equal(get.status, 400, 'a GET without a preflight header is a simple request too');
      const preflighted = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ viewer { name } }')}`, {
        headers: { authorization: `Bearer ${t.adminToken}`, 'apollo-require-preflight': 'true' },
      });
      assert.deepEqual(await preflighted.json(), { data: { viewer: { name: 'admin' } } });
    });

    it('masks unexpected failures: no SQL, no stack, a request id that matches the response header', async () => {
      await gql(t.url, t.adminToken, 'mutation { createCluster(input: { id: "MASK-1" }) { id } }');
      const conn = t.app.runtime.context().em.getConnection();
      await conn.execute('ALTER TABLE cluster_credentials RENAME TO cluster_credentials_gone');
      try {
        const res = await gql(t.url, t.adminToken, '{ clusters { edges { node { id credentialStatus { caFingerprint } } } } }');
        assert.equal(res.status, 200);
        assert.ok(res.errors.length > 0);
        const err = res.errors[0]!;
        assert.equal(err.extensions!.code, 'INTERNAL_SERVER_ERROR');
        assert.equal(err.extensions!.requestId, res.headers.get('x-request-id'));
        assert.equal(err.message, `internal error (request id ${res.headers.get('x-request-id')})`);
        assert.deepEqual(Object.keys(err.extensions!).sort(), ['code', 'requestId']);
        assert.doesNotMatch(res.text, /select |cluster_credentials|no such table|doesn't exist|sqlite|ER_NO_SUCH_TABLE|\.js:\d+|stacktrace/i);
        assert.equal(res.data.clusters.edges[0].node.id, 'MASK-1', 'the rest of the response still arrives');
      } finally {
        await conn.execute('ALTER TABLE cluster_credentials_gone RENAME TO cluster_credentials');
      }
    });

    it('allows introspection to authenticated callers when graphql.introspection is on', async () => {
      assert.equal(t.app.runtime.config.graphql.introspection, true);
      const res = await gql(t.url, t.adminToken, '{ __schema { queryType { name } } }');
      assert.deepEqual(res.data, { __schema: { queryType: { name: 'Query' } } });
      assert.equal((await gql(t.url, undefined, '{ __schema { queryType { name } } }')).status, 401);
    });

    it('does not hint at field names in validation errors', async () => {
      const res = await gql(t.url, t.adminToken, '{ viewe { name } }');
      assert.equal(res.status, 400);
      assert.deepEqual(codes(res), ['GRAPHQL_VALIDATION_FAILED']);
      assert.doesNotMatch(res.errors[0]!.message, /Did you mean/);
    });

    it('answers malformed or oversized bodies with BAD_REQUEST', async () => {
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` };
      const broken = await fetch(`${t.url}/graphql`, { method: 'POST', headers, body: '{"query": ' });
      assert.equal(broken.status, 400);
      assert.deepEqual(((await broken.json()) as { errors: { extensions: unknown }[] }).errors[0]!.extensions, { code: 'BAD_REQUEST' });
      const body = JSON.stringify({ query: `{ viewer { name } }${' '.repeat(2 * 1024 * 1024)}` });
      const size = Buffer.byteLength(body);
      const huge = await fetch(`${t.url}/graphql`, { method: 'POST', headers, body });
      assert.equal(huge.status, 413);
      const payload = (await huge.json()) as { errors: { message: string; extensions: unknown }[] };
      assert.deepEqual(payload.errors[0]!.extensions, { code: 'BAD_REQUEST', limit: 'body-bytes', max: 1024 * 1024, found: size });
      assert.equal(payload.errors[0]!.message, `body-bytes limit exceeded: the request body is ${size} bytes, ${size - 1024 * 1024} over the limit of ${1024 * 1024}`);
    });

    it('refuses batched requests', async () => {
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` },
        body: JSON.stringify([{ query: '{ viewer { name } }' }, { query: '{ viewer { id } }' }]),
      });
      assert.equal(res.status, 400);
      const payload = (await res.json()) as { errors: { extensions: { code: string } }[] };
      assert.equal(payload.errors[0]!.extensions.code, 'BAD_REQUEST');
    });
  });
}
