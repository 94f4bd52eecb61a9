import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getNamedType, isObjectType, type GraphQLObjectType } from 'graphql';
import { createCluster } from '../../src/domain/clusters';
import { reportCredentials } from '../../src/domain/credentials';
import { MAX_PAGE } from '../../src/domain/pagination';
import { createRegisterToken } from '../../src/domain/register-tokens';
import { authenticate } from '../../src/domain/auth';
import { buildGraphqlSchema } from '../../src/graphql/schema';
import { startTestApp, type TestApp } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { gql, TEST_CA_PEM } from './graphql-fixtures';

/** Every field of a type without required arguments, objects expanded `depth` levels down. */
function everyField(type: GraphQLObjectType, depth: number): string {
  const fields = Object.values(type.getFields()).filter((f) => !f.args.some((a) => a.type.toString().endsWith('!')));
  return fields
    .map((f) => {
      const named = getNamedType(f.type);
      if (!isObjectType(named)) return f.name;
      return depth > 0 ? `${f.name} { ${everyField(named, depth - 1)} }` : '';
    })
    .filter(Boolean)
    .join(' ');
}

for (const dialect of DIALECTS) {
  describe(`GraphQL page sizes and the cost limit agree on ${dialect}`, () => {
    let t: TestApp;
    let page: string;

    before(async () => {
      t = await startTestApp(dialect);
      const schema = await buildGraphqlSchema();
      const node = everyField(schema.getType('Cluster') as GraphQLObjectType, 1);
      assert.match(node, /creator \{ .*registerTokenStatus \{ .*credentialStatus \{ .*tunnel \{ .*reachedVia/s, node);
      page = `clusters(first: ${MAX_PAGE}) { totalCount edges { cursor node { ${node} } } pageInfo { hasNextPage endCursor } }`;
      const ctx = t.app.runtime.context();
      const admin = await authenticate(ctx.em, t.adminToken, new Date());
      for (const id of ['COST-1', 'COST-2']) {
        await createCluster(ctx, admin, { id });
        const { secret } = await createRegisterToken(ctx, admin, id, 3600);
        await reportCredentials(ctx, id, { registerToken: secret, serverAddresses: 'https://10.2.0.1:6443', caCertData: TEST_CA_PEM, userToken: 'sa' });
      }
    });
    after(async () => t?.stop());

    it('accepts the documented largest page of clusters with every nested field under the default graphql.max_cost', async () => {
      assert.equal(t.app.runtime.config.graphql.maxCost, 5000);
      const schema = await buildGraphqlSchema();
      const first = schema.getQueryType()!.getFields().clusters!.args.find((a) => a.name === 'first')!;
      assert.match(first.description ?? '', new RegExp(`0 to ${MAX_PAGE}`), 'the schema documents the page size the limit accepts');
      const res = await gql(t.url, t.adminToken, `{ ${page} }`);
      assert.deepEqual(res.errors, []);
      assert.equal(res.status, 200);
      const nodes = res.data.clusters.edges.map((e: { node: { id: string; credentialStatus: unknown; registerTokenStatus: unknown } }) => e.node);
      assert.deepEqual(nodes.map((n: { id: string }) => n.id), ['COST-1', 'COST-2']);
      assert.ok(nodes.every((n: { credentialStatus: unknown; registerTokenStatus: unknown }) => n.credentialStatus && n.registerTokenStatus));
    });

    it('refuses two such pages in one operation, saying how to page', async () => {
      const res = await gql(t.url, t.adminToken, `{ a: ${page} b: ${page} }`);
      assert.equal(res.status, 400);
      assert.equal(res.errors.length, 1);
      assert.deepEqual([res.errors[0]!.extensions!.limit, res.errors[0]!.extensions!.max], ['cost', 5000]);
      assert.match(res.errors[0]!.message, /^cost limit exceeded: the operation costs \d+, \d+ over the limit of 5000; ask for smaller pages \(first\), following pageInfo\.endCursor with after/);
    });

    it('prices a page given as a variable like a literal one', async () => {
      const byVariable = page.replace(`first: ${MAX_PAGE}`, 'first: $n');
      const res = await gql(t.url, t.adminToken, `query($n: Int) { a: ${byVariable} b: ${byVariable} }`, { n: MAX_PAGE });
      assert.equal(res.status, 400);
      assert.equal(res.errors[0]!.extensions!.limit, 'cost');
      const small = await gql(t.url, t.adminToken, `query($n: Int) { a: ${byVariable} b: ${byVariable} }`, { n: 100 });
      assert.deepEqual(small.errors, []);
    });
  });
}
