import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../../src/domain/auth';
import { createCluster, deleteCluster } from '../../src/domain/clusters';
import type { Principal } from '../../src/domain/context';
import { activeGrantSources, applySubscriptionEvent, createGrant, deleteGrant, grantsForCluster, replaceConfigGrants, toPlannerGrant } from '../../src/domain/rbac-grants';
import { claimSyncLease, readSyncStatus, recordSyncOutcome } from '../../src/domain/rbac-sync-status';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { ConflictError, ForbiddenError, ValidationError } from '../../src/errors';
import { RbacGrant, RbacSyncStatus } from '../../src/store/entities';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { DIALECTS } from '../helpers/db';

for (const dialect of DIALECTS) {
  describe(`RBAC grants in the store (${dialect})`, () => {
    let t: TestRuntime;
    let admin: Principal;

    before(async () => {
      t = await startTestRuntime(dialect);
      const ctx = t.rt.context();
      const root = await createUser(ctx, undefined, { name: 'root', isSuperUser: true });
      admin = await authenticate(ctx.em, (await issueToken(ctx, undefined, root, {})).secret, new Date());
      await createUser(ctx, undefined, { name: 'plain:alice' });
      await createCluster(ctx, undefined, { id: 'BCS-K8S-001', clusterType: 'k8s' });
      await createCluster(ctx, undefined, { id: 'BCS-K8S-0012', clusterType: 'k8s' });
    });
    after(async () => t?.stop());

    it('stores a grant once: identical grants conflict, even for every cluster (NULL cluster id)', async () => {
      const input = { subjectKind: 'User', subjectName: 'plain:alice', clusterId: null, scope: 'cluster', template: 'bke-cluster-readonly' };
      const g = await createGrant(t.rt.context(), admin, input);
      assert.equal(g.template, 'cluster-readonly');
      await assert.rejects(createGrant(t.rt.context(), admin, input), ConflictError);
      await assert.rejects(createGrant(t.rt.context(), admin, { ...input, subjectName: 'plain:ghost' }), (e: unknown) => e instanceof ValidationError && e.field === 'input.subjectName');
      await deleteGrant(t.rt.context(), admin, g.id);
      assert.equal(await t.rt.context().em.count(RbacGrant, {}), 0);
    });

    it('replaces config grants to match the file, idempotently, and keeps them read-only', async () => {
      const data = [{ userName: 'plain:alice', clusterId: 'BCS-K8S-001', roles: ['cluster-readonly', 'services-view'] }];
      assert.deepEqual(await replaceConfigGrants(t.rt.context(), data), { added: 2, removed: 0, problems: [] });
      assert.deepEqual(await replaceConfigGrants(t.rt.context(), data), { added: 0, removed: 0, problems: [] });
      const next = await replaceConfigGrants(t.rt.context(), [{ userName: 'plain:alice', clusterId: 'BCS-K8S-001', roles: ['services-view', 'bogus'] }]);
      assert.equal(next.added, 0);
      assert.equal(next.removed, 1);
      assert.match(next.problems.join('\n'), /rbac_data\[0\]\.roles\[1\]: no role template named 'bogus'/);
      const [row] = await t.rt.context().em.find(RbacGrant, { source: 'config' });
      await assert.rejects(deleteGrant(t.rt.context(), admin, row!.id), ForbiddenError);
    });

    it('matches subscription clusters exactly (never a substring) and applies only active sources', async () => {
      const ev = { operation: 'add' as const, principal: { principal_type: 'user', principal_id: 'bob' }, action: 'cluster-readonly', resource_type: 'cluster' as const, resource_instance: { cluster: 'bcs-k8s-001' }, policy_from: 'common' };
      assert.deepEqual(await applySubscriptionEvent(t.rt.context(), ev, 'test'), { clusters: ['BCS-K8S-001'], changed: true });
      assert.deepEqual(await applySubscriptionEvent(t.rt.context(), ev, 'test'), { clusters: ['BCS-K8S-001'], changed: false });
      await assert.rejects(applySubscriptionEvent(t.rt.context(), { ...ev, resource_instance: { cluster: 'K8S-001' } }, 'test'), /no cluster with id 'K8S-001'/);
      const em = t.rt.context().em;
      const onlyGraphql = await grantsForCluster(em, 'BCS-K8S-001', activeGrantSources({ turnOnConf: false, turnOnAuth: false }));
      assert.equal(onlyGraphql.length, 0);
      const all = await grantsForCluster(em, 'BCS-K8S-001', activeGrantSources({ turnOnConf: true, turnOnAuth: true }));
      assert.deepEqual(all.map(toPlannerGrant).map((g) => g.subject.name).sort(), ['plain.alice', 'user.bob']);
      assert.equal((await grantsForCluster(em, 'BCS-K8S-0012', ['subscription'])).length, 0, 'BCS-K8S-001 grants never reach BCS-K8S-0012');
    });

    it('forgets a deleted cluster\'s grants and sync status', async () => {
      await createCluster(t.rt.context(), undefined, { id: 'BCS-K8S-GONE', clusterType: 'k8s' });
      await createGrant(t.rt.context(), admin, { subjectKind: 'Group', subjectName: 'dev', clusterId: 'BCS-K8S-GONE', scope: 'cluster', template: 'cluster-readonly' });
      const every = await createGrant(t.rt.context(), admin, { subjectKind: 'Group', subjectName: 'dev', clusterId: null, scope: 'cluster', template: 'services-view' });
      await claimSyncLease(t.rt.context().em, 'BCS-K8S-GONE', 'a', new Date(), 60_000);
      await deleteCluster(t.rt.context(), admin, 'BCS-K8S-GONE');
      const em = t.rt.context().em;
      assert.equal(await em.count(RbacGrant, { clusterId: 'BCS-K8S-GONE' }), 0);
      assert.equal(await em.count(RbacSyncStatus, { clusterId: 'BCS-K8S-GONE' }), 0);
      assert.equal(await em.count(RbacGrant, { id: every.id }), 1, 'every-cluster grants stay');
      await deleteGrant(t.rt.context(), admin, every.id);
    });

    it('gives the sync lease to one process at a time, and back after expiry or release', async () => {
      const now = new Date();
      assert.equal(await claimSyncLease(t.rt.context().em, 'BCS-K8S-001', 'a', now, 60_000), true);
      assert.equal(await claimSyncLease(t.rt.context().em, 'BCS-K8S-001', 'b', now, 60_000), false);
      assert.equal(await claimSyncLease(t.rt.context().em, 'BCS-K8S-001', 'a', now, 60_000), true, 'the holder renews');
      assert.equal(await claimSyncLease(t.rt.context().em, 'BCS-K8S-001', 'b', new Date(now.getTime() + 61_000), 60_000), true, 'an expired lease is taken over');
      await recordSyncOutcome(t.rt.context().em, 'BCS-K8S-001', 'b', { trigger: 'manual', at: now, result: 'failed', error: 'boom' });
      assert.equal(await claimSyncLease(t.rt.context().em, 'BCS-K8S-001', 'c', now, 60_000), true, 'released after the outcome');
      const s = await readSyncStatus(t.rt.context().em, 'BCS-K8S-001');
      assert.equal(s.result, 'failed');
      assert.equal(s.consecutiveFailures, 1);
      assert.equal(s.lastError, 'boom');
    });
  });
}
