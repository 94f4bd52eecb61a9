import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { codes, gql } from './graphql-fixtures';

const VIEWER = '{ viewer { id name isSuperUser } }';
const ISSUE = 'mutation($input: IssueTokenInput!) { issueToken(input: $input) { secret token { id name type expiresAt user { id name } } } }';

for (const dialect of DIALECTS) {
  describe(`GraphQL authentication and users on ${dialect}`, () => {
    let t: TestApp;
    let adminId: number;
    let alice: { id: number; token: string };

    before(async () => {
      t = await startTestApp(dialect);
      adminId = (await gql(t.url, t.adminToken, VIEWER)).data.viewer.id;
      const created = await gql(t.url, t.adminToken, 'mutation { createUser(input: { name: "alice", groups: ["dev"] }) { id name isSuperUser userType groups } }');
      assert.deepEqual(created.errors, []);
      assert.deepEqual(created.data.createUser, { id: created.data.createUser.id, name: 'alice', isSuperUser: false, userType: 'PLAIN', groups: ['dev'] });
      const issued = await gql(t.url, t.adminToken, ISSUE, { input: { userId: created.data.createUser.id, name: 'alice-cli' } });
      assert.deepEqual(issued.errors, []);
      alice = { id: created.data.createUser.id, token: issued.data.issueToken.secret };
    });
    after(async () => t?.stop());

    it('rejects requests without a token, or with an unknown one, as UNAUTHENTICATED with 401', async () => {
      const anonymous = await gql(t.url, undefined, VIEWER);
      assert.equal(anonymous.status, 401);
      assert.deepEqual(codes(anonymous), ['UNAUTHENTICATED']);
      assert.equal(anonymous.data, null);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
      const unknown = await gql(t.url, 'bcs_notarealtoken', VIEWER);
      assert.equal(unknown.status, 401);
      assert.deepEqual(codes(unknown), ['UNAUTHENTICATED']);
      assert.equal(unknown.errors[0]!.message, 'invalid token');
    });

    it('tells each caller who they are', async () => {
      assert.deepEqual((await gql(t.url, t.adminToken, VIEWER)).data.viewer, { id: adminId, name: 'admin', isSuperUser: true });
      assert.deepEqual((await gql(t.url, alice.token, VIEWER)).data.viewer, { id: alice.id, name: 'alice', isSuperUser: false });
    });

    it('forbids normal users the admin operations and other users', async () => {
      const create = await gql(t.url, alice.token, 'mutation { createUser(input: { name: "mallory" }) { id } }');
      assert.deepEqual(codes(create), ['FORBIDDEN']);
      assert.equal(create.data, null);
      assert.deepEqual(codes(await gql(t.url, alice.token, '{ users { edges { node { name } } } }')), ['FORBIDDEN']);
      assert.deepEqual(codes(await gql(t.url, alice.token, `{ user(id: ${adminId}) { name } }`)), ['FORBIDDEN']);
      assert.deepEqual(codes(await gql(t.url, alice.token, `mutation { disableUser(id: ${adminId}) { id } }`)), ['FORBIDDEN']);
      assert.deepEqual(codes(await gql(t.url, alice.token, ISSUE, { input: { userId: adminId } })), ['FORBIDDEN']);
      const self = await gql(t.url, alice.token, `{ user(id: ${alice.id}) { name } }`);
      assert.deepEqual(self.data.user, { name: 'alice' });
      const stillNoMallory = await gql(t.url, t.adminToken, '{ users(filter: { nameContains: "mallory" }) { totalCount } }');
      assert.equal(stillNoMallory.data.users.totalCount, 0);
    });

    it('shows normal users their own tokens only', async () => {
      await gql(t.url, t.adminToken, ISSUE, { input: { name: 'admin-extra' } });
      const own = await gql(t.url, alice.token, ISSUE, { input: { name: 'alice-second' } });
      assert.equal(own.data.issueToken.token.user.id, alice.id);
      const mine = await gql(t.url, alice.token, '{ tokens { totalCount edges { node { name user { id } } } } }');
      assert.deepEqual(mine.errors, []);
      const names = mine.data.tokens.edges.map((e: { node: { name: string } }) => e.node.name).sort();
      assert.deepEqual(names, ['alice-cli', 'alice-second']);
      assert.equal(mine.data.tokens.totalCount, 2);
      assert.ok(mine.data.tokens.edges.every((e: { node: { user: { id: number } } }) => e.node.user.id === alice.id));
      const others = await gql(t.url, alice.token, `{ tokens(filter: { userId: ${adminId} }) { edges { node { id } } } }`);
      assert.deepEqual(codes(others), ['FORBIDDEN']);
      const all = await gql(t.url, t.adminToken, '{ tokens { totalCount } }');
      assert.ok(all.data.tokens.totalCount >= 4, 'super users list every user\'s tokens');
    });

    it('issues a token whose secret works as a bearer until it is revoked', async () => {
      const issued = await gql(t.url, alice.token, ISSUE, { input: { name: 'short', ttl: 600 } });
      assert.deepEqual(issued.errors, []);
      const { secret, token } = issued.data.issueToken;
      assert.match(secret, /^bcs_/);
      assert.equal(token.type, 'PLAIN');
      const expiresIn = Date.parse(token.expiresAt) - Date.now();
      assert.ok(expiresIn > 590_000 && expiresIn <= 600_000, `expires in ${expiresIn} ms`);
      assert.equal((await gql(t.url, secret, VIEWER)).data.viewer.name, 'alice');

      const revoked = await gql(t.url, alice.token, `mutation { revokeToken(id: ${token.id}) { id revokedAt } }`);
      assert.ok(revoked.data.revokeToken.revokedAt);
      const after = await gql(t.url, secret, VIEWER);
      assert.equal(after.status, 401);
      assert.deepEqual(codes(after), ['UNAUTHENTICATED']);
      assert.match(after.errors[0]!.message, /revoked/);
      // Other users' tokens look missing rather than forbidden, so their ids are not confirmed.
      const adminTokens = await gql(t.url, t.adminToken, `{ tokens(filter: { userId: ${adminId} }) { edges { node { id } } } }`);
      const adminTokenId = adminTokens.data.tokens.edges[0].node.id;
      assert.deepEqual(codes(await gql(t.url, alice.token, `mutation { revokeToken(id: ${adminTokenId}) { id } }`)), ['NOT_FOUND']);
    });

    it('rejects bad input as BAD_USER_INPUT naming the field', async () => {
      const negative = await gql(t.url, alice.token, ISSUE, { input: { ttl: -5 } });
      assert.deepEqual(codes(negative), ['BAD_USER_INPUT']);
      assert.equal(negative.errors[0]!.extensions!.field, 'ttl');
      const tooLong = await gql(t.url, alice.token, ISSUE, { input: { ttl: 10 * 365 * 86400 } });
      assert.deepEqual(codes(tooLong), ['BAD_USER_INPUT']);
      assert.equal(tooLong.errors[0]!.extensions!.field, 'ttl');
      const badName = await gql(t.url, t.adminToken, 'mutation { createUser(input: { name: "no spaces please" }) { id } }');
      assert.deepEqual(codes(badName), ['BAD_USER_INPUT']);
      assert.equal(badName.errors[0]!.extensions!.field, 'name');
      const badPage = await gql(t.url, t.adminToken, '{ users(first: 501) { totalCount } }');
      assert.deepEqual(codes(badPage), ['BAD_USER_INPUT']);
      assert.equal(badPage.errors[0]!.extensions!.field, 'first');
      const duplicate = await gql(t.url, t.adminToken, 'mutation { createUser(input: { name: "alice" }) { id } }');
      assert.deepEqual(codes(duplicate), ['CONFLICT']);
    });

    it('disables, enables and deletes users, and their tokens follow', async () => {
      const bob = await gql(t.url, t.adminToken, 'mutation { createUser(input: { name: "bob" }) { id } }');
      const bobId = bob.data.createUser.id;
      const bobToken = (await gql(t.url, t.adminToken, ISSUE, { input: { userId: bobId } })).data.issueToken.secret;
      assert.equal((await gql(t.url, bobToken, VIEWER)).data.viewer.name, 'bob');

      const disabled = await gql(t.url, t.adminToken, `mutation { disableUser(id: ${bobId}) { disabledAt } }`);
      assert.ok(disabled.data.disableUser.disabledAt);
      assert.match((await gql(t.url, bobToken, VIEWER)).errors[0]!.message, /disabled/);
      const listed = await gql(t.url, t.adminToken, '{ users(filter: { disabled: true }) { edges { node { name } } } }');
      assert.deepEqual(listed.data.users.edges, [{ node: { name: 'bob' } }]);

      await gql(t.url, t.adminToken, `mutation { enableUser(id: ${bobId}) { id } }`);
      assert.equal((await gql(t.url, bobToken, VIEWER)).data.viewer.name, 'bob');

      const deleted = await gql(t.url, t.adminToken, `mutation { deleteUser(id: ${bobId}) { id name } }`);
      assert.deepEqual(deleted.data.deleteUser, { id: bobId, name: 'bob' });
      assert.equal((await gql(t.url, bobToken, VIEWER)).status, 401);
      assert.deepEqual(codes(await gql(t.url, t.adminToken, `{ user(id: ${bobId}) { id } }`)), ['NOT_FOUND']);
      const self = await gql(t.url, t.adminToken, `mutation { deleteUser(id: ${adminId}) { id } }`);
      assert.deepEqual(codes(self), ['BAD_USER_INPUT']);
      assert.equal(self.errors[0]!.extensions!.field, 'id');
    });
  });
}
