import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { User } from '../../src/store/entities';
import { createLogger } from '../../src/log';
import { startRuntime, type StartedRuntime } from '../../src/runtime';
import { tempDir, testConfig } from '../helpers/app';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * Replicas started at the same moment on an empty MariaDB database (a Deployment's pods on the first
 * install): one applies the migrations and creates the default admin, the others wait for it and find
 * both done. Every start succeeds, with one admin between them.
 */
describe('replicas starting together on an empty MariaDB database', () => {
  let dir: string;
  let db: TestDatabase;
  const started: StartedRuntime[] = [];

  before(async () => {
    dir = tempDir();
    db = await createTestDatabase('mysql', dir);
  });
  after(async () => {
    for (const rt of started) await rt.close();
    await db?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('migrates once and creates one default admin, whichever starts first', { timeout: 120_000 }, async () => {
    const config = { ...testConfig(db, dir), createDefaultAdmin: true };
    const results = await Promise.allSettled([0, 1, 2].map(() => startRuntime(config, createLogger('silent'))));
    for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
    assert.deepEqual(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'started')), ['started', 'started', 'started']);
    assert.equal(started.filter((rt) => rt.bootstrap.defaultAdmin).length, 1, 'one replica created the admin and shows its token');
    assert.equal(await started[0]!.orm.em.fork().count(User, { isSuperUser: true }), 1);
  });
});
