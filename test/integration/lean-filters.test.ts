/**
 * The list filters `findLean` builds with knex directly (src/store/simple-where.ts) select exactly the
 * rows MikroORM's own `find` selects, on both databases; filters it does not recognise (dates, $or,
 * conditions on a related entity's fields) are left to MikroORM and still give the same rows.
 */
import assert from 'node:assert/strict';
import type { FilterQuery } from '@mikro-orm/core';
import { after, before, describe, it } from 'node:test';
import { Cluster } from '../../src/store/entities/cluster.entity';
import { User } from '../../src/store/entities/user.entity';
import { findLean, metadataOf } from '../../src/store/lean';
import { simpleConditions } from '../../src/store/simple-where';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { DIALECTS } from '../helpers/db';

for (const dialect of DIALECTS) {
  describe(`lean list filters on ${dialect}`, () => {
    let t: TestRuntime;
    let alice: number;
    let bob: number;
    const since = new Date('2026-06-01T00:00:00Z');
    before(async () => {
      t = await startTestRuntime(dialect);
      const em = t.rt.context().em;
      const a = em.create(User, { name: 'lf-alice', userType: 'plain', createdAt: new Date(), updatedAt: new Date() } as never);
      const b = em.create(User, { name: 'lf-bob', userType: 'plain', createdAt: new Date(), updatedAt: new Date() } as never);
      await em.flush();
      alice = a.id;
      bob = b.id;
      for (let i = 0; i < 12; i += 1) {
        em.create(Cluster, {
          id: `LF-${String(i).padStart(2, '0')}`,
          identifier: `lf-${i}-${dialect}`,
          provider: i % 3 === 0 ? 'plain' : 'bcs',
          clusterType: (['k8s', 'mesos', 'tke'] as const)[i % 3]!,
          projectId: i % 4 === 0 ? null : `p${i % 2}`,
          creator: i % 5 === 0 ? null : i % 2 ? a : b,
          createdAt: new Date(Date.UTC(2026, i % 12, 1)),
        } as never);
      }
      await em.flush();
    });
    after(async () => t?.stop());

    const same = async (where: FilterQuery<Cluster>): Promise<string[]> => {
      const em = t.rt.context().em;
      const lean = (await findLean(em, Cluster, where, { orderBy: { id: 'asc' } })).map((c) => c.id);
      const found = (await em.fork().find(Cluster, where, { orderBy: { id: 'asc' } })).map((c) => c.id);
      assert.deepEqual(lean, found, `${JSON.stringify(where)}: lean read differs from find`);
      return lean;
    };
    const isSimple = (where: FilterQuery<Cluster>): boolean => simpleConditions(metadataOf(t.rt.context().em, Cluster), where as object) !== undefined;

    it('builds plain-column filters itself and selects the rows find selects', async () => {
      const filters: FilterQuery<Cluster>[] = [
        { provider: 'bcs' },
        { projectId: null },
        { projectId: { $ne: null } },
        { clusterType: { $in: ['k8s', 'mesos'] } },
        { id: { $like: 'LF-1%' } },
        { id: { $gt: 'LF-03', $lte: 'LF-09' }, provider: 'plain' },
        { $and: [{ provider: 'bcs' }, { clusterType: 'mesos' }] },
        { creator: null },
      ];
      for (const where of filters) {
        assert.ok(isSimple(where), `${JSON.stringify(where)} should take the knex path`);
        await same(where);
      }
      assert.deepEqual(await same({ creator: alice }), ['LF-01', 'LF-03', 'LF-07', 'LF-09', 'LF-11']);
      assert.deepEqual(await same({ creator: { $in: [alice, bob] }, projectId: 'p0' }), ['LF-02', 'LF-06']);
      assert.deepEqual(await same({ id: { $in: [] } }), []);
    });

    it('leaves other filters to MikroORM, with the same rows', async () => {
      const filters: FilterQuery<Cluster>[] = [{ createdAt: { $gte: since } }, { $or: [{ provider: 'plain' }, { projectId: 'p1' }] }, { creator: { name: 'lf-bob' } }];
      for (const where of filters) {
        assert.equal(isSimple(where), false, `${JSON.stringify(where)} should go to the query builder`);
        assert.ok((await same(where)).length > 0, `${JSON.stringify(where)} selected nothing`);
      }
    });
  });
}
