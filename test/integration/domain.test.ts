import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../../src/domain/auth';
import { bootstrapUsers } from '../../src/domain/bootstrap';
import { pruneChanges } from '../../src/domain/changes';
import { createCluster, deleteCluster, listClusters } from '../../src/domain/clusters';
import type { DomainContext, Principal } from '../../src/domain/context';
import { readClusterSecrets, reportCredentials } from '../../src/domain/credentials';
import { createRegisterToken, readRegisterToken, revokeRegisterToken, rotateRegisterToken } from '../../src/domain/register-tokens';
import { issueToken, purgeDeadTokens, revokeToken } from '../../src/domain/tokens';
import { createUser, setUserDisabled } from '../../src/domain/users';
import { ConflictError, ForbiddenError, UnauthenticatedError, ValidationError } from '../../src/errors';
import { DIALECTS } from '../helpers/db';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { TEST_CA_PEM } from '../helpers/fixtures';

for (const dialect of DIALECTS) {
  describe(`domain on ${dialect}`, () => {
    let t: TestRuntime;
    let ctx: () => DomainContext;
    let admin: Principal;
    let alice: Principal;

    before(async () => {
      t = await startTestRuntime(dialect);
      ctx = () => t.rt.context();
      const a = await createUser(ctx(), undefined, { name: 'root', isSuperUser: true });
      admin = await authenticate(ctx().em, (await issueToken(ctx(), undefined, a, {})).secret, new Date());
      const u = await createUser(ctx(), undefined, { name: 'plain:alice', groups: ['dev'] });
      alice = await authenticate(ctx().em, (await issueToken(ctx(), undefined, u, {})).secret, new Date());
    });
    after(async () => t?.stop());

    it('refuses revoked and expired tokens and disabled users, saying which', async () => {
      const user = await createUser(ctx(), undefined, { name: 'bob' });
      const revoked = await issueToken(ctx(), undefined, user, {});
      await revokeToken(ctx(), admin, revoked.token.id);
      await assert.rejects(authenticate(ctx().em, revoked.secret, new Date()), /revoked/);
      const expiring = await issueToken(ctx(), undefined, user, { ttlSeconds: 60 });
      await assert.rejects(authenticate(ctx().em, expiring.secret, new Date(Date.now() + 61_000)), /expired for user: bob/);
      const live = await issueToken(ctx(), undefined, user, {});
      await setUserDisabled(ctx(), admin, user.id, true);
      await assert.rejects(authenticate(ctx().em, live.secret, new Date()), /disabled/);
      await assert.rejects(authenticate(ctx().em, 'bcs_notatoken', new Date()), UnauthenticatedError);
    });

    it('purges tokens that expired or were revoked before a cut-off, and only those', async () => {
      const user = await createUser(ctx(), undefined, { name: 'carol' });
      const expired = await issueToken(ctx(), undefined, user, { ttlSeconds: 60 });
      const revoked = await issueToken(ctx(), undefined, user, {});
      await revokeToken(ctx(), admin, revoked.token.id);
      const live = await issueToken(ctx(), undefined, user, {});
      const removed = await purgeDeadTokens(ctx().em, new Date(Date.now() + 120_000));
      assert.ok(removed >= 2);
      const ids = (await ctx().em.getConnection().execute(`select id from api_tokens where user_id = ${user.id}`)).map((r: { id: number }) => r.id);
      assert.deepEqual(ids, [live.token.id]);
      assert.ok(!ids.includes(expired.token.id));
    });

    it('lets a normal user revoke only their own tokens', async () => {
      const other = await issueToken(ctx(), undefined, admin.user, {});
      await assert.rejects(revokeToken(ctx(), alice, other.token.id), /not found/);
      await assert.doesNotReject(authenticate(ctx().em, other.secret, new Date()));
    });

    it('keeps one active register token per cluster, rotates and revokes it', async () => {
      const cluster = await createCluster(ctx(), admin, { id: 'BCS-K8S-001', clusterType: 'k8s', projectId: 'p1' });
      assert.match(cluster.identifier, /^bcs-k8s-001-[a-z0-9]{16}$/);
      const first = await createRegisterToken(ctx(), admin, cluster.id);
      await assert.rejects(createRegisterToken(ctx(), admin, cluster.id), ConflictError);
      assert.equal((await readRegisterToken(ctx(), admin, cluster.id)).secret, first.secret);
      await assert.rejects(readRegisterToken(ctx(), alice, cluster.id), ForbiddenError);
      const second = await rotateRegisterToken(ctx(), admin, cluster.id);
      assert.notEqual(second.secret, first.secret);
      const report = { serverAddresses: 'https://10.0.0.1:6443', caCertData: TEST_CA_PEM, userToken: 'sa-token' };
      await assert.rejects(reportCredentials(ctx(), cluster.id, { ...report, registerToken: first.secret }), /invalid register token/);
      await reportCredentials(ctx(), cluster.id, { ...report, registerToken: second.secret });
      await revokeRegisterToken(ctx(), admin, cluster.id);
      await assert.rejects(reportCredentials(ctx(), cluster.id, { ...report, registerToken: second.secret }), /no valid register token/);
      const third = await createRegisterToken(ctx(), admin, cluster.id, 1);
      assert.ok(third.token.expiresAt);
    });

    it('validates credential reports before touching what is stored', async () => {
      const cluster = await createCluster(ctx(), admin, { id: 'BCS-K8S-002' });
      const { secret } = await createRegisterToken(ctx(), admin, cluster.id);
      const good = { registerToken: secret, serverAddresses: 'https://10.0.0.2:6443;https://10.0.0.1:6443', caCertData: TEST_CA_PEM, userToken: 'sa-1' };
      await reportCredentials(ctx(), cluster.id, good);
      const bad = [
        [{ ...good, serverAddresses: 'not a url' }, 'server_addresses'],
        [{ ...good, serverAddresses: '' }, 'server_addresses'],
        [{ ...good, caCertData: 'garbage' }, 'cacert_data'],
        [{ ...good, userToken: '' }, 'user_token'],
        [{ ...good, registerToken: undefined }, 'register_token'],
      ] as const;
      for (const [input, field] of bad) {
        await assert.rejects(reportCredentials(ctx(), cluster.id, input), (err: unknown) => err instanceof ValidationError && err.field === field);
      }
      const stored = await readClusterSecrets(ctx(), admin, cluster.id);
      assert.deepEqual(stored.serverAddresses, ['https://10.0.0.2:6443', 'https://10.0.0.1:6443']);
      assert.equal(stored.userToken, 'sa-1');
      assert.equal(stored.caCertData, TEST_CA_PEM);
      await assert.rejects(readClusterSecrets(ctx(), alice, cluster.id), ForbiddenError);
    });

    it('records a change only when a credential report changes something, and prunes old feed rows', async () => {
      const cluster = await createCluster(ctx(), admin, { id: 'BCS-K8S-005' });
      const { secret } = await createRegisterToken(ctx(), admin, cluster.id);
      const report = { registerToken: secret, serverAddresses: 'https://h:6443', caCertData: TEST_CA_PEM, userToken: 'sa-1' };
      const events = async () => (await ctx().em.getConnection().execute(`select id from change_events where kind = 'credential' and \`key\` = 'BCS-K8S-005'`)).length;
      await reportCredentials(ctx(), cluster.id, report);
      assert.equal(await events(), 1);
      const again = await reportCredentials(ctx(), cluster.id, { ...report, reporterAddress: '10.0.0.9' });
      assert.equal(await events(), 1, 'an identical report is not a change');
      assert.equal(again.reporterAddress, '10.0.0.9');
      await reportCredentials(ctx(), cluster.id, { ...report, userToken: 'sa-2' });
      assert.equal(await events(), 2);
      assert.equal((await readClusterSecrets(ctx(), admin, cluster.id)).userToken, 'sa-2');
      const removed = await pruneChanges(ctx().em, new Date(Date.now() + 1000));
      assert.ok(removed >= 2);
      assert.equal(await events(), 0);
    });

    it('stores register tokens, CA and SA tokens sealed, never in plaintext', async () => {
      const cluster = await createCluster(ctx(), admin, { id: 'BCS-K8S-003' });
      const { secret } = await createRegisterToken(ctx(), admin, cluster.id);
      await reportCredentials(ctx(), cluster.id, { registerToken: secret, serverAddresses: 'https://h:6443', caCertData: TEST_CA_PEM, userToken: 'sa-token-plaintext-marker' });
      const conn = ctx().em.getConnection();
      const dump = JSON.stringify([await conn.execute('select * from register_tokens'), await conn.execute('select * from cluster_credentials')]);
      const caBody = TEST_CA_PEM.split('\n')[1]!;
      for (const s of [secret, 'sa-token-plaintext-marker', caBody]) assert.ok(!dump.includes(s), 'secret found in plaintext');
    });

    it('cascades a cluster delete to its register tokens and credentials', async () => {
      const cluster = await createCluster(ctx(), admin, { id: 'BCS-K8S-004' });
      const { secret } = await createRegisterToken(ctx(), admin, cluster.id);
      await reportCredentials(ctx(), cluster.id, { registerToken: secret, serverAddresses: 'https://h:6443', caCertData: TEST_CA_PEM, userToken: 't' });
      await assert.rejects(deleteCluster(ctx(), alice, cluster.id), ForbiddenError);
      await deleteCluster(ctx(), admin, cluster.id);
      const conn = ctx().em.getConnection();
      assert.deepEqual(await conn.execute(`select id from register_tokens where cluster_id = 'BCS-K8S-004'`), []);
      assert.deepEqual(await conn.execute(`select id from cluster_credentials where cluster_id = 'BCS-K8S-004'`), []);
    });

    it('pages clusters with opaque cursors', async () => {
      for (const n of [10, 11, 12]) await createCluster(ctx(), admin, { id: `PAGE-${n}` });
      const p1 = await listClusters(ctx(), { idContains: 'PAGE-' }, { first: 2 });
      assert.deepEqual(p1.items.map((c) => c.id), ['PAGE-10', 'PAGE-11']);
      assert.equal(p1.hasNextPage, true);
      assert.equal(await p1.totalCount(), 3);
      const p2 = await listClusters(ctx(), { idContains: 'PAGE-' }, { first: 2, after: p1.cursors[1] });
      assert.deepEqual(p2.items.map((c) => c.id), ['PAGE-12']);
      assert.equal(p2.hasNextPage, false);
      await assert.rejects(listClusters(ctx(), {}, { after: 'bogus' }), ValidationError);
    });

    it('imports bootstrap tokens for new and existing users; creates admin only when no super user exists', async () => {
      const r1 = await bootstrapUsers(ctx(), [{ name: 'ops', isSuperUser: true, groups: [], tokens: ['ops-token-1', 'ops-token-2'] }], true);
      assert.deepEqual(r1.createdUsers, ['ops']);
      assert.equal(r1.importedTokens, 2);
      assert.equal(r1.defaultAdmin, undefined, 'super users exist already');
      for (const tok of ['ops-token-1', 'ops-token-2']) assert.equal((await authenticate(ctx().em, tok, new Date())).user.name, 'ops');
      const r2 = await bootstrapUsers(ctx(), [{ name: 'ops', isSuperUser: true, groups: [], tokens: ['ops-token-2', 'ops-token-3'] }], true);
      assert.deepEqual(r2.createdUsers, []);
      assert.equal(r2.importedTokens, 1);
    });
  });
}
