/**
 * Cluster ids and tunnel identifiers are one namespace, compared without regard to case: every creation
 * route refuses an id another cluster holds as id or identifier, generated identifiers never take one,
 * concurrent creations of one key leave exactly one cluster, and deletion frees the keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCluster } from '../../src/domain/clusters';
import { IDENTIFIER_ATTEMPTS } from '../../src/domain/cluster-keys';
import { isGatewayError } from '../../src/errors';
import { Cluster, ClusterKey } from '../../src/store/entities';
import { startTestApp, type TestApp } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { gql } from './graphql-fixtures';
import { call } from './rest-fixtures';

type Route = 'graphql' | 'rest-bcs' | 'rest-plain' | 'usermanager';
const ROUTES: Route[] = ['graphql', 'rest-bcs', 'rest-plain', 'usermanager'];

/** What a route answered: the cluster created, or the conflict message in that edge's own envelope. */
type Outcome = { created: { id: string; identifier?: string } } | { conflict: string };

async function createVia(t: TestApp, route: Route, id: string): Promise<Outcome> {
  if (route === 'graphql') {
    const r = await gql(t.url, t.adminToken, 'mutation($id: ID!) { createCluster(input: { id: $id, projectId: "p" }) { id identifier } }', { id });
    if (r.data?.createCluster) return { created: r.data.createCluster };
    assert.deepEqual(r.errors.map((e) => e.extensions?.code), ['CONFLICT'], r.text);
    return { conflict: r.errors[0]!.message };
  }
  if (route === 'usermanager') {
    const r = await call(t.url, 'POST', '/bcsapi/v4/usermanager/v1/clusters', { token: t.adminToken, json: { cluster_id: id, cluster_type: 'k8s' } });
    if (r.status === 200) return { created: r.body.data };
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.result, false);
    assert.equal(r.body.code, 1405061);
    return { conflict: r.body.message };
  }
  const path = route === 'rest-bcs' ? '/rest/clusters/bcs' : '/rest/clusters';
  const r = await call(t.url, 'POST', path, { token: t.adminToken, json: { id, project_id: 'p' } });
  if (r.status === 200) return { created: r.body };
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body.code_name, 'CLUSTER_ALREADY_EXISTS', r.text);
  return { conflict: r.body.message };
}

function conflictOf(o: Outcome): string {
  assert.ok('conflict' in o, `created ${JSON.stringify(o)}`);
  return o.conflict;
}

/** `AbCd…`: every other letter upper-cased. */
const mixCase = (s: string): string => [...s].map((c, i) => (i % 2 ? c.toLowerCase() : c.toUpperCase())).join('');

for (const dialect of DIALECTS) {
  describe(`cluster ids and identifiers share one namespace on ${dialect}`, () => {
    let t: TestApp;
    const ctx = () => t.app.runtime.context();
    const counts = async () => {
      const em = ctx().em;
      return { clusters: await em.count(Cluster, {}), keys: await em.count(ClusterKey, {}) };
    };

    before(async () => {
      t = await startTestApp(dialect);
    });
    after(async () => t?.stop());

    it('refuses, through every creation route, an id equal to another cluster’s tunnel identifier in any case', async () => {
      const a = await createCluster(ctx(), undefined, { id: 'BCS-K8S-61001' });
      const before = await counts();
      assert.equal(before.keys, 2 * before.clusters);
      for (const route of ROUTES) {
        for (const variant of [a.identifier, a.identifier.toUpperCase(), mixCase(a.identifier)]) {
          const message = conflictOf(await createVia(t, route, variant));
          assert.match(message, new RegExp(`cluster id "${variant}" is already in use as the tunnel identifier of cluster "BCS-K8S-61001"`), `${route} ${variant}`);
        }
      }
      assert.deepEqual(await counts(), before, 'nothing was written');
    });

    it('refuses, through every creation route, an id equal to an existing id in any case', async () => {
      await createCluster(ctx(), undefined, { id: 'Bcs-K8s-Mixed' });
      const before = await counts();
      for (const route of ROUTES) {
        assert.match(conflictOf(await createVia(t, route, 'Bcs-K8s-Mixed')), /cluster Bcs-K8s-Mixed already exists$/, route);
        for (const variant of ['bcs-k8s-mixed', 'BCS-K8S-MIXED', 'bCS-k8S-mIXED']) {
          const message = conflictOf(await createVia(t, route, variant));
          assert.match(message, new RegExp(`cluster ${variant} already exists as "Bcs-K8s-Mixed"`), `${route} ${variant}`);
        }
      }
      assert.deepEqual(await counts(), before);
    });

    it('creates through every route a cluster whose id and identifier become keys', async () => {
      for (const route of ROUTES) {
        const id = `Route-${route}`;
        const o = await createVia(t, route, id);
        assert.ok('created' in o, JSON.stringify(o));
        const cluster = await ctx().em.findOneOrFail(Cluster, { id });
        const keys = (await ctx().em.find(ClusterKey, { cluster: id })).map((k) => k.key).sort();
        assert.deepEqual(keys, [id.toLowerCase(), cluster.identifier].sort());
      }
    });

    it('never hands out a generated identifier that is another cluster’s id: it draws again', async () => {
      // The next identifier of cluster GEN would be gen-<suffix>; both spellings of that are taken.
      await createCluster(ctx(), undefined, { id: 'GEN-AAAAAAAAAAAAAAAA' });
      await createCluster(ctx(), undefined, { id: 'gen-bbbbbbbbbbbbbbbb' });
      const drawn = ['aaaaaaaaaaaaaaaa', 'BBBBBBBBBBBBBBBB', 'cccccccccccccccc'];
      let calls = 0;
      const gen = await createCluster(ctx(), undefined, { id: 'GEN' }, { identifierSuffix: () => drawn[calls++]! });
      assert.equal(calls, 3);
      assert.equal(gen.identifier, 'gen-cccccccccccccccc');

      // Bounded: a source that only ever collides gives up with a conflict and writes nothing.
      await createCluster(ctx(), undefined, { id: 'gen2-aaaaaaaaaaaaaaaa' });
      const before = await counts();
      calls = 0;
      await assert.rejects(
        createCluster(ctx(), undefined, { id: 'Gen2' }, { identifierSuffix: () => (calls++, 'AAAAAAAAAAAAAAAA') }),
        (err) => isGatewayError(err) && err.code === 'CONFLICT' && /tunnel identifier for cluster Gen2/.test(err.message),
      );
      assert.equal(calls, IDENTIFIER_ATTEMPTS);
      assert.deepEqual(await counts(), before);
    });

    it('lets exactly one of two concurrent creations of ids differing only in case win, round after round', async () => {
      const pairs: [Route, Route][] = [
        ['graphql', 'rest-plain'],
        ['rest-bcs', 'usermanager'],
        ['graphql', 'graphql'],
        ['rest-plain', 'rest-plain'],
      ];
      for (let round = 0; round < 12; round++) {
        const [r1, r2] = pairs[round % pairs.length]!;
        const id = `Race-${round}`;
        const outcomes = await Promise.all([createVia(t, r1, id.toUpperCase()), createVia(t, r2, id.toLowerCase())]);
        const won = outcomes.filter((o) => 'created' in o);
        assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(outcomes)}`);
        const lost = outcomes.find((o) => 'conflict' in o) as { conflict: string };
        assert.match(lost.conflict, /already (exists|in use)/);
        const rows = await ctx().em.getConnection().execute(`select id from clusters where lower(id) = ?`, [id.toLowerCase()]);
        assert.equal(rows.length, 1, `round ${round}: ${JSON.stringify(rows)}`);
        assert.equal(await ctx().em.count(ClusterKey, { cluster: rows[0].id }), 2);
      }
    });

    it('refuses a second owner of a key in the database itself, whatever the application checks', async () => {
      await createCluster(ctx(), undefined, { id: 'Db-Owner' });
      await createCluster(ctx(), undefined, { id: 'Db-Other' });
      const conn = ctx().em.getConnection();
      await assert.rejects(conn.execute('insert into cluster_keys (`key`, cluster_id) values (?, ?)', ['db-owner', 'Db-Other']), /unique|duplicate/i);
    });

    it('frees the id and the identifier on delete, so the same id (in any case) registers again', async () => {
      const currentId = async (): Promise<string> => {
        const rows = await ctx().em.getConnection().execute(`select id from clusters where lower(id) = 'reuse-me'`);
        assert.equal(rows.length, 1);
        return rows[0].id as string;
      };
      const deleteIt = async (): Promise<void> => {
        const del = await gql(t.url, t.adminToken, 'mutation($id: ID!) { deleteCluster(id: $id) { id } }', { id: await currentId() });
        assert.deepEqual(del.errors, [], del.text);
        assert.equal(await ctx().em.count(ClusterKey, { key: 'reuse-me' }), 0, 'keys removed with the cluster');
      };
      const first = await createVia(t, 'graphql', 'Reuse-Me');
      assert.ok('created' in first);
      const oldIdentifier = first.created.identifier!;
      for (const again of ['Reuse-Me', 'REUSE-ME', 'reuse-me']) {
        await deleteIt();
        const o = await createVia(t, 'rest-plain', again);
        assert.ok('created' in o, `${again}: ${JSON.stringify(o)}`);
        assert.notEqual(o.created.identifier, oldIdentifier);
      }
      // The first cluster's identifier went with it: it may even become an id now.
      assert.ok('created' in (await createVia(t, 'usermanager', oldIdentifier.toUpperCase())));
      // The current cluster's identifier is held until that cluster goes.
      const current = await ctx().em.findOneOrFail(Cluster, { id: await currentId() });
      assert.match(conflictOf(await createVia(t, 'graphql', current.identifier)), /tunnel identifier of cluster/);
      await deleteIt();
      assert.ok('created' in (await createVia(t, 'graphql', current.identifier)));
    });
  });
}
