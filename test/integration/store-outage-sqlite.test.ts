/**
 * SQLite's way of being unavailable: another process holds the database file's lock (a `sqlite3` shell
 * in an open transaction, a tool writing the file). Every statement then waits better-sqlite3's busy
 * timeout (5 s, blocking the event loop: the driver is synchronous) and fails with SQLITE_BUSY. The
 * edges answer 503 with Retry-After; the outage is logged once and its end once, without SQL or values.
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
import { waitFor } from '../helpers/wait';
import { assertGraphql503, assertOutageLogged, assertRest503, assertTunnel503, assertUserManager503, Edges } from './store-outage-fixtures';

/** The few calls of better-sqlite3 this suite makes (the package ships no types). */
interface SqliteHandle {
  exec(sql: string): void;
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Database = require('better-sqlite3') as new (file: string) => SqliteHandle;

describe('store outage on SQLite (the database file locked by another process)', () => {
  const logs = new LogLines();
  let dir: string;
  let db: TestDatabase;
  let app: App;
  let fake: FakeKube;
  let edges: Edges;
  let admin: string;
  let fresh: string;
  let other: SqliteHandle | undefined;

  before(async () => {
    dir = tempDir();
    db = await createTestDatabase('sqlite', dir);
    app = await startApp(testConfig(db, dir, { plain: { address: '127.0.0.1', port: 0 } }), createLogger('info', logs));
    admin = app.defaultAdminToken!;
    fake = await startFakeKube();
    const ctx = () => app.runtime.context();
    const { cluster } = await registerCluster(ctx, 'BCS-K8S-LOCKED', credsOf(fake));
    fresh = (await issueToken(ctx(), undefined, (await findUserByName(ctx(), 'admin'))!, {})).secret;
    edges = new Edges(app.listening.urls[0]!, cluster.identifier);
    logs.clear();
  });

  after(async () => {
    other?.close();
    await app?.stop();
    await fake?.stop();
    await db?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers before the lock', async () => {
    assert.equal((await edges.rest(admin, '/users/', { user_name: 'bob' })).status, 200);
    assert.equal((await edges.userManager(admin, '/users/plain/carol', 'POST')).status, 200);
    assert.equal((await edges.tunnel(admin)).status, 200);
  });

  it('answers 503 with Retry-After on every edge while another process holds the lock', { timeout: 180_000 }, async () => {
    if (db.config.dialect !== 'sqlite') throw new Error('unreachable');
    other = new Database(db.config.path);
    other.exec('BEGIN EXCLUSIVE');
    assertRest503(await edges.rest(admin, '/users/bob'));
    assertUserManager503(await edges.userManager(admin, '/users/plain/carol'));
    assertGraphql503(await edges.graphql(fresh, '{ viewer { name } }'));
    assertTunnel503(await edges.tunnel(fresh));
    assert.equal((await edges.tunnel(admin)).status, 200, 'a cached token and cluster need no store');
    const readyz = await fetch(`${app.listening.urls[0]}/readyz`);
    assert.equal(readyz.status, 503, 'a locked store is not ready');
    assert.equal(((await readyz.json()) as { checks: { database: string } }).checks.database, 'unreachable');
    assert.equal(logs.withMessage('store unavailable').length, 1);
    assert.equal(logs.withMessage('store available again').length, 0);
  });

  it('answers again once the lock is released', { timeout: 60_000 }, async () => {
    other!.exec('COMMIT');
    other!.close();
    other = undefined;
    await waitFor('the store health to see the store back', () => logs.withMessage('store available again').length === 1, 30_000);
    assert.equal((await edges.rest(admin, '/users/bob')).status, 200);
    assert.equal((await edges.graphql(fresh, '{ viewer { name } }')).status, 200);
    assert.equal((await edges.tunnel(fresh)).status, 200);
    assert.equal((await fetch(`${app.listening.urls[0]}/readyz`)).status, 200);
  });

  it('logged the outage once with its cause, with no SQL, values or token digests', () => {
    assertOutageLogged(logs, 1, [admin, fresh], /^SQLITE_BUSY$/);
  });
});
