import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../../src/domain/auth';
import { createCluster } from '../../src/domain/clusters';
import type { Principal } from '../../src/domain/context';
import { reportCredentials } from '../../src/domain/credentials';
import { createRegisterToken } from '../../src/domain/register-tokens';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { startTestApp, type TestApp } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { gql, TEST_CA_PEM } from './graphql-fixtures';

const LIST = `{ clusters(first: 500, filter: { idContains: "NPLUSONE" }) {
  edges { cursor node {
    id identifier
    creator { id name }
    registerTokenStatus { active createdAt expiresAt }
    credentialStatus { serverAddresses reportedAt caFingerprint reporterAddress }
  } }
  pageInfo { hasNextPage endCursor }
} }`;

interface Node {
  id: string;
  creator: { name: string } | null;
  registerTokenStatus: { active: boolean } | null;
  credentialStatus: { caFingerprint: string } | null;
}

for (const dialect of DIALECTS) {
  describe(`GraphQL cluster listing on ${dialect} (no N+1)`, () => {
    let t: TestApp;
    let creators: Principal[];
    let created = 0;

    /** Clusters alternate between two creators; 3 in 4 get a register token, 1 in 5 reports credentials. */
    async function addClusters(upTo: number): Promise<void> {
      const ctx = t.app.runtime.context();
      for (; created < upTo; created += 1) {
        const id = `NPLUSONE-${String(created).padStart(4, '0')}`;
        await createCluster(ctx, creators[created % 2], { id });
        if (created % 4 === 3) continue;
        const { secret } = await createRegisterToken(ctx, creators[0], id, 86400);
        if (created % 5 === 0) {
          await reportCredentials(ctx, id, { registerToken: secret, serverAddresses: 'https://10.1.0.1:6443', caCertData: TEST_CA_PEM, userToken: 'sa', reporterAddress: '10.1.0.9' });
        }
      }
      // SQLite runs synchronously, so the seeding above can block past the server's keep-alive timeout;
      // let that timer close the idle socket now rather than under fetch's next request (ECONNRESET).
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    async function listAndCount(expected: number): Promise<number> {
      const warm = await gql(t.url, t.adminToken, LIST);
      assert.deepEqual(warm.errors, []);
      let nodes: Node[] = [];
      const statements = await t.queries.count(async () => {
        const res = await gql(t.url, t.adminToken, LIST);
        assert.deepEqual(res.errors, []);
        nodes = res.data.clusters.edges.map((e: { node: Node }) => e.node);
      });
      assert.equal(nodes.length, expected);
      const withToken = nodes.filter((n) => n.registerTokenStatus?.active === true).length;
      const withCreds = nodes.filter((n) => n.credentialStatus !== null).length;
      assert.equal(withToken, expected - Math.floor(expected / 4));
      assert.equal(withCreds, nodes.filter((_, i) => i % 4 !== 3 && i % 5 === 0).length);
      assert.deepEqual(new Set(nodes.map((n) => n.creator?.name)), new Set(['admin', 'ops']));
      return statements;
    }

    before(async () => {
      // The default configuration: the documented page of 500 with every status field is within graphql.max_cost.
      t = await startTestApp(dialect);
      const ctx = t.app.runtime.context();
      const ops = await createUser(ctx, undefined, { name: 'ops', isSuperUser: true });
      const opsToken = await issueToken(ctx, undefined, ops, { name: 'ops' });
      creators = [await authenticate(ctx.em, t.adminToken, new Date()), await authenticate(ctx.em, opsToken.secret, new Date())];
    });
    after(async () => t?.stop());

    it('lists clusters with creator and statuses in a constant number of statements', async () => {
      await addClusters(20);
      const for20 = await listAndCount(20);
      await addClusters(200);
      const for200 = await listAndCount(200);
      assert.equal(for200, for20, `statements grew with the page: ${for20} for 20 clusters, ${for200} for 200\n${t.queries.statements.join('\n')}`);
      // The caller's token with its user, the page of clusters, their creators and statuses together.
      assert.ok(for200 <= 3, `expected at most 3 statements, got ${for200}:\n${t.queries.statements.join('\n')}`);
    });

    it("does not rewrite the caller's token when a mutation flushes", async () => {
      const enable = `mutation { enableUser(id: ${creators[1]!.user.id}) { id disabledAt } }`;
      assert.deepEqual((await gql(t.url, t.adminToken, enable)).errors, []);
      await t.queries.count(() => gql(t.url, t.adminToken, enable));
      // The token was used a moment ago, so its last use is not written again either.
      assert.deepEqual(t.queries.statements.filter((s) => s.includes('api_tokens') && /\bupdate\b/i.test(s)), []);
    });
  });
}
