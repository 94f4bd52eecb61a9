/**
 * Databases written before ids and identifiers shared a namespace may hold colliding rows. Upgrading them
 * must not fail; start-up names each colliding pair; the tunnel refuses a key that names more than one
 * cluster (409 Status) and keeps serving every other key; deleting one cluster of a pair resolves it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startApp, type App } from '../../src/app';
import { findKeyCollisions } from '../../src/domain/cluster-key-report';
import { findClustersByIdOrIdentifier } from '../../src/domain/clusters';
import { reportCredentials } from '../../src/domain/credentials';
import { createRegisterToken } from '../../src/domain/register-tokens';
import { createLogger } from '../../src/log';
import { openStore } from '../../src/store/orm';
import { ClusterKey } from '../../src/store/entities';
import { tempDir, testConfig } from '../helpers/app';
import { credsOf } from '../helpers/clusters';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../helpers/db';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { rawCall } from '../helpers/raw-http';
import { gql } from './graphql-fixtures';

const A = { id: 'BCS-K8S-50001', identifier: 'bcs-k8s-50001-abcdefghijklmnop' };
/** B's id is A's identifier, upper-cased. */
const B = { id: 'BCS-K8S-50001-ABCDEFGHIJKLMNOP', identifier: 'bcs-k8s-50001-abcdefghijklmnop-qrstuvwxyzabcdef' };
/** Collides with nothing. */
const D = { id: 'BCS-K8S-50003', identifier: 'bcs-k8s-50003-zyxwvutsrqponmlk' };
/** A second pair, which an operator resolves by hand in the database. */
const G = { id: 'BCS-K8S-50007', identifier: 'bcs-k8s-50007-gggggggggggggggg' };
const H = { id: 'bcs-k8s-50007-GGGGGGGGGGGGGGGG', identifier: 'bcs-k8s-50007-gggggggggggggggg-hhhhhhhhhhhhhhhh' };
/** Ids equal but for case: only SQLite could store both (MariaDB's collation refuses the second). */
const E = { id: 'legacy-e', identifier: 'legacy-e-aaaaaaaaaaaaaaaa' };
const F = { id: 'LEGACY-E', identifier: 'legacy-e-bbbbbbbbbbbbbbbb' };

/** Migrates up to (not including) the key table and writes rows as the code before it could have. */
async function legacyDatabase(db: TestDatabase, rows: { id: string; identifier: string }[]): Promise<void> {
  const orm = await openStore(db.config);
  try {
    const migrator = orm.getMigrator();
    const pending = (await migrator.getPendingMigrations()).map((m) => m.name);
    const at = pending.findIndex((n) => n.endsWith('_cluster_keys'));
    assert.ok(at > 0, pending.join(', '));
    await migrator.up({ to: pending[at - 1]! });
    const createdAt = db.config.dialect === 'sqlite' ? Date.now() : '2026-01-01 00:00:00.000';
    const conn = orm.em.fork().getConnection();
    for (const r of rows) {
      await conn.execute(`insert into clusters (id, identifier, provider, cluster_type, created_at) values (?, ?, 'bcs', 'k8s', ?)`, [r.id, r.identifier, createdAt]);
    }
  } finally {
    await orm.close();
  }
}

for (const dialect of DIALECTS) {
  describe(`clusters that collided before the key table, on ${dialect}`, () => {
    let app: App;
    let fake: FakeKube;
    let db: TestDatabase;
    let dir: string;
    let url = '';
    let token = '';
    const lines: Record<string, any>[] = [];
    const legacy = dialect === 'sqlite' ? [A, B, D, G, H, E, F] : [A, B, D, G, H];
    const ctx = () => app.runtime.context();
    const tunnel = (key: string) => rawCall(`${url}/tunnels/clusters/${key}/version`, { headers: { authorization: `Bearer ${token}` } });

    before(async () => {
      fake = await startFakeKube();
      dir = tempDir();
      db = await createTestDatabase(dialect, dir);
      await legacyDatabase(db, legacy);
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, any>);
          cb();
        },
      });
      // Start-up applies the key table's migration (its backfill skips taken keys) and reports collisions.
      app = await startApp(testConfig(db, dir, { plain: { address: '127.0.0.1', port: 0 } }), createLogger('warn', sink));
      url = app.listening.urls[0]!;
      token = app.defaultAdminToken!;
      // Every cluster reports the fake apiserver: whichever one a request reached, the fake would see it.
      for (const c of legacy) {
        const { secret: registerToken } = await createRegisterToken(ctx(), undefined, c.id);
        await reportCredentials(ctx(), c.id, { registerToken, ...credsOf(fake) });
      }
    });
    after(async () => {
      await app?.stop();
      await fake?.stop();
      await db?.drop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('upgrades without failing and keeps one owner per key', async () => {
      const keys = await ctx().em.find(ClusterKey, {}, { orderBy: { key: 'asc' } });
      const expected = new Set(legacy.flatMap((c) => [c.id.toLowerCase(), c.identifier]));
      assert.deepEqual(keys.map((k) => k.key), [...expected].sort());
    });

    it('names every colliding pair in one error line at start', () => {
      const errors = lines.filter((l) => l.level === 50);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      const [line] = errors;
      assert.match(line!.msg, new RegExp(`the tunnel identifier of cluster "${A.id}" equals the id of cluster "${B.id}"|the id of cluster "${B.id}" equals the tunnel identifier of cluster "${A.id}"`));
      assert.match(line!.msg, /refused \(409 Conflict\) until an operator/);
      const pairs = (line!.collisions as { key: string; clusters: { clusterId: string; as: string }[] }[]).map((c) => `${c.key}: ${c.clusters.map((n) => `${n.clusterId}/${n.as}`).sort().join(' ')}`);
      const pair = (key: string, ...names: string[]) => `${key}: ${names.sort().join(' ')}`;
      const expected = [pair(A.identifier, `${A.id}/identifier`, `${B.id}/id`), pair(G.identifier, `${G.id}/identifier`, `${H.id}/id`)];
      if (dialect === 'sqlite') {
        expected.push(pair('legacy-e', `${E.id}/id`, `${F.id}/id`));
        assert.match(line!.msg, /the id of cluster "LEGACY-E" equals the id of cluster "legacy-e"|the id of cluster "legacy-e" equals the id of cluster "LEGACY-E"/);
      }
      assert.deepEqual(pairs.sort(), expected.sort());
    });

    it('refuses a colliding key with a 409 Status naming both clusters, in any case, and never forwards it', async () => {
      fake.clearRequests();
      const keys = [A.identifier, A.identifier.toUpperCase(), A.identifier, ...(dialect === 'sqlite' ? ['legacy-e', 'Legacy-E'] : [])];
      for (const key of keys) {
        const res = await tunnel(key);
        assert.equal(res.status, 409, `${key}: ${res.text}`);
        const status = JSON.parse(res.text);
        assert.equal(status.kind, 'Status');
        assert.equal(status.reason, 'Conflict');
        assert.equal(status.code, 409);
        const [first, second] = key.toLowerCase() === 'legacy-e' ? [E.id, F.id] : [A.id, B.id];
        assert.ok(status.message.includes(`"${first}"`) && status.message.includes(`"${second}"`), status.message);
        assert.match(status.message, /an operator must rename or delete one of them/);
      }
      assert.equal(fake.requests.length, 0, fake.requests.map((r) => r.url).join(', '));
    });

    it('keeps serving every key that names one cluster, by id or identifier, in any case', async () => {
      for (const key of [A.id, A.id.toLowerCase(), B.identifier, D.id, D.id.toLowerCase(), D.identifier.toUpperCase(), ...(dialect === 'sqlite' ? [E.identifier, F.identifier] : [])]) {
        const res = await tunnel(key);
        assert.equal(res.status, 200, `${key}: ${res.text}`);
      }
    });

    it('refuses new clusters on any colliding key', async () => {
      for (const id of [A.identifier.toUpperCase(), B.id.toLowerCase(), ...(dialect === 'sqlite' ? ['Legacy-E'] : [])]) {
        const r = await gql(url, token, 'mutation($id: ID!) { createCluster(input: { id: $id }) { id } }', { id });
        assert.deepEqual(r.errors.map((e) => e.extensions?.code), ['CONFLICT'], `${id}: ${r.text}`);
      }
    });

    it('serves a key again within seconds of an operator renaming one cluster of the pair in the database', async () => {
      assert.equal((await tunnel(G.identifier)).status, 409);
      const conn = ctx().em.getConnection();
      // The rename cascades to the cluster's credentials (and key rows, left as they were otherwise).
      await conn.execute(`update clusters set id = 'BCS-K8S-50008' where id = ?`, [H.id]);
      const deadline = Date.now() + 15_000;
      let status = 409;
      while (status === 409 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        status = (await tunnel(G.identifier)).status;
      }
      assert.equal(status, 200, 'an ambiguous key is looked up again after a few seconds');
      // Found under its new name (its sealed credentials are bound to the old id: its agent must report again).
      assert.deepEqual((await findClustersByIdOrIdentifier(ctx(), 'bcs-k8s-50008')).map((c) => c.identifier), [H.identifier]);
    });

    it('resolves once an operator deletes one cluster of the pair; the survivor keeps the key', async () => {
      const del = await gql(url, token, 'mutation($id: ID!) { deleteCluster(id: $id) { id } }', { id: B.id });
      assert.deepEqual(del.errors, [], del.text);
      fake.clearRequests();
      const res = await tunnel(A.identifier);
      assert.equal(res.status, 200, res.text);
      assert.equal(fake.requests.length, 1);
      const owner = await ctx().em.findOneOrFail(ClusterKey, { key: A.identifier });
      assert.equal(owner.cluster.id, A.id, 'the key passed to the cluster that still holds it');
      const again = await gql(url, token, 'mutation($id: ID!) { createCluster(input: { id: $id }) { id } }', { id: A.identifier.toUpperCase() });
      assert.deepEqual(again.errors.map((e) => e.extensions?.code), ['CONFLICT'], again.text);
      const left = (await findKeyCollisions(ctx().em)).map((c) => c.key);
      assert.deepEqual(left, dialect === 'sqlite' ? ['legacy-e'] : []);
    });
  });
}
