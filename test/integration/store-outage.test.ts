/**
 * The database goes away under load (MariaDB behind a TCP proxy that cuts it: test/helpers/tcp-cut.ts):
 * requests in flight and new ones get each edge's own 503 with Retry-After, never a 500; tokens and
 * clusters the proxy has cached keep working; the outage is logged once with its cause and once when it
 * ends, without SQL, values or token digests; afterwards everything answers again and nothing that was
 * acknowledged is lost.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startApp, type App } from '../../src/app';
import { issueToken } from '../../src/domain/tokens';
import { findUserByName } from '../../src/domain/users';
import { createLogger } from '../../src/log';
import { tempDir, testConfig } from '../helpers/app';
import { credsOf, registerCluster } from '../helpers/clusters';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { LogLines } from '../helpers/log-lines';
import { TcpCut } from '../helpers/tcp-cut';
import { waitFor } from '../helpers/wait';
import {
  assertGraphql503,
  assertOutageLogged,
  assertPassthrough503,
  assertRest503,
  assertServedOr503,
  assertTunnel503,
  assertUserManager503,
  Edges,
  type Reply,
} from './store-outage-fixtures';

const CLUSTERS_QUERY = '{ clusters(first: 5) { totalCount edges { node { id } } } }';
const VIEWER_QUERY = '{ viewer { name } }';

/** The database process gone (connections refused) or a server that resets every connection it accepts. */
const MODES = [
  { mode: 'refuse', title: 'connections refused' },
  { mode: 'reset', title: 'connections reset' },
] as const;

for (const { mode, title } of MODES) {
  describe(`store outage on MariaDB under load (${title})`, () => {
    const logs = new LogLines();
    let dir: string;
    let db: TestDatabase;
    let cut: TcpCut;
    let app: App;
    let fake: FakeKube;
    let edges: Edges;
    let admin: string;
    /** A super user's token nobody has used yet: no cache holds it. */
    let fresh: string;
    /** Tokens handed out while the store was going down, whose answers said they were issued. */
    const issued: string[] = [];
    /** Users whose creation was acknowledged while the store was going down. */
    const created: string[] = [];

    before(async () => {
      dir = tempDir();
      db = await createTestDatabase('mysql', dir);
      if (db.config.dialect !== 'mysql') throw new Error('unreachable');
      cut = await TcpCut.start(db.config.target.port, db.config.target.host);
      const throughCut: TestDatabase = { ...db, config: { ...db.config, target: { ...db.config.target, host: '127.0.0.1', port: cut.port } } };
      const config = testConfig(throughCut, dir, { plain: { address: '127.0.0.1', port: 0 } });
      app = await startApp(config, createLogger('info', logs));
      admin = app.defaultAdminToken!;
      fake = await startFakeKube();
      const ctx = () => app.runtime.context();
      const { cluster } = await registerCluster(ctx, 'BCS-K8S-OUTAGE', credsOf(fake));
      fresh = (await issueToken(ctx(), undefined, (await findUserByName(ctx(), 'admin'))!, {})).secret;
      edges = new Edges(app.listening.urls[0]!, cluster.identifier);
      // Start-up says things (a new key file) that are not this suite's business.
      logs.clear();
    });

    after(async () => {
      await cut?.restore();
      await app?.stop();
      await fake?.stop();
      await cut?.close();
      await db?.drop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('answers on every edge while the store is up (and the proxy caches the admin token and the cluster)', async () => {
      assert.equal((await edges.rest(admin, '/users/', { user_name: 'bob' })).status, 200);
      assert.equal((await edges.rest(admin, '/users/bob')).status, 200);
      assert.equal((await edges.userManager(admin, '/users/plain/carol', 'POST')).status, 200);
      assert.equal((await edges.graphql(admin, VIEWER_QUERY)).status, 200);
      assert.equal((await edges.tunnel(admin)).status, 200);
      assert.equal((await edges.mesos(admin)).status, 200);
    });

    it('answers 503 with Retry-After on every edge when the store goes down under requests in flight', { timeout: 120_000 }, async () => {
      // The store dies exactly as the GraphQL resolver sends its query (authentication has passed), while
      // reads and writes of every edge are in flight.
      const died = cut.cutWhen((sent) => sent.includes('from `clusters`') && sent.includes('count('), mode);
      const burst: Promise<[Reply, (r: Reply) => void, () => void]>[] = [];
      const track = (p: Promise<Reply>, check: (r: Reply) => void, onOk: (r: Reply) => void = () => undefined) => burst.push(p.then((r) => [r, check, () => onOk(r)]));
      for (let i = 0; i < 6; i += 1) {
        track(edges.rest(admin, '/users/bob'), assertRest503);
        track(edges.rest(admin, '/users/', { user_name: `burst${i}` }), assertRest503, () => created.push(`burst${i}`));
        track(edges.userManager(admin, '/users/plain/carol'), assertUserManager503, (r) => issued.push(r.body.data.user_token as string));
        track(edges.graphql(admin, VIEWER_QUERY), assertGraphql503);
        track(edges.tunnel(admin), () => assert.fail('a cached token and cluster need no store'));
      }
      const resolverFailed = edges.graphql(admin, CLUSTERS_QUERY);
      await died;
      assertGraphql503(await resolverFailed);
      for (const [r, check, onOk] of await Promise.all(burst)) {
        assertServedOr503(r, check);
        if (r.status === 200) onOk();
      }

      // New requests while it stays down.
      assertRest503(await edges.rest(admin, '/users/bob'));
      assertRest503(await edges.rest(admin, '/users/', { user_name: 'during' }));
      assertUserManager503(await edges.userManager(admin, '/users/plain/carol'));
      assertGraphql503(await edges.graphql(admin, CLUSTERS_QUERY));
      assertGraphql503(await edges.graphql(fresh, VIEWER_QUERY));
      assertTunnel503(await edges.tunnel(fresh));
      assertPassthrough503(await edges.mesos(fresh));
      // The admin token is cached, the webhook routes read the store.
      assertPassthrough503(await edges.mesos(admin));
      assert.equal((await edges.tunnel(admin)).status, 200, 'cached tokens and clusters keep working');

      // Background loops (the change feed every 500 ms, the probe every second) fail meanwhile, silently.
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(logs.withMessage('store unavailable').length, 1);
      assert.equal(logs.withMessage('store available again').length, 0);
    });

    it('answers again once the store is back, and keeps everything it acknowledged', { timeout: 120_000 }, async () => {
      await cut.restore();
      await waitFor('the store health to see the store back', () => logs.withMessage('store available again').length === 1, 15_000);
      assert.equal((await edges.rest(admin, '/users/bob')).status, 200);
      assert.equal((await edges.userManager(admin, '/users/plain/carol')).status, 200);
      const clusters = await edges.graphql(admin, CLUSTERS_QUERY);
      assert.equal(clusters.status, 200, clusters.text);
      assert.equal(clusters.body.data.clusters.totalCount, 1);
      assert.equal((await edges.tunnel(fresh)).status, 200);
      assert.equal((await edges.mesos(fresh)).status, 200);
      for (const name of created) assert.equal((await edges.rest(admin, `/users/${name}`)).status, 200, `user ${name} was acknowledged`);
      for (const token of issued) {
        const viewer = await edges.graphql(token, VIEWER_QUERY);
        assert.equal(viewer.body.data?.viewer.name, 'carol', 'a token acknowledged during the cut authenticates');
      }
      assert.equal((await edges.rest(admin, '/users/during')).status, 404, 'a write answered 503 before reaching the store did not happen');
    });

    it('logged the outage once with its cause and once when it ended, with no SQL, values or token digests', () => {
      if (process.env.STORE_OUTAGE_DUMP) fs.writeFileSync(process.env.STORE_OUTAGE_DUMP, `${JSON.stringify({ created, issued: issued.length })}\n${logs.raw.join('\n')}\n`);
      assertOutageLogged(logs, 1, [admin, fresh, ...issued], /^(ECONNRESET|ECONNREFUSED|PROTOCOL_CONNECTION_LOST|EPIPE)$/);
      const cause = logs.withMessage('store unavailable')[0]!['cause'] as Record<string, unknown>;
      assert.doesNotMatch(String(cause['message']), /clusters|select/i, 'the driver’s words, not the statement');
    });
  });
}
