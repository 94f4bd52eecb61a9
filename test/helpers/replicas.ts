import fs from 'node:fs';
import { startApp, type App } from '../../src/app';
import type { Config } from '../../src/config/config';
import { createLogger } from '../../src/log';
import { tempDir, testConfig } from './app';
import { createTestDatabase, type TestDatabase } from './db';

export interface Replica {
  name: string;
  app: App;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Reads of the change feed this replica made so far. */
  feedReads(): number;
}

export interface Replicas {
  db: TestDatabase;
  replicas: Replica[];
  /** The token of the default admin, created by the first replica. */
  adminToken: string;
  /** The /readyz body of a replica. */
  readyz(r: Replica): Promise<{ status: number; changeSignal?: string; database?: string }>;
  stop(): Promise<void>;
}

/**
 * `count` gateway processes' worth of apps in this process, on one shared MariaDB database, each with
 * its own runtime, listeners and ZooKeeper session: replicas as far as each other can tell.
 */
export async function startReplicas(count: number, overrides: Partial<Config> = {}): Promise<Replicas> {
  const dir = tempDir('bcs-replicas-');
  const db = await createTestDatabase('mysql', dir);
  const replicas: Replica[] = [];
  let adminToken = '';
  try {
    // One after another: the first migrates the database and creates the admin.
    for (let i = 0; i < count; i += 1) {
      let reads = 0;
      const config = testConfig(db, dir, { plain: { address: '127.0.0.1', port: 0 }, ...overrides });
      const onQuery = (message: string): void => {
        if (/\bfrom [`"]?change_events/i.test(message)) reads += 1;
      };
      const app = await startApp(config, createLogger(process.env.BCS_TEST_LOG_LEVEL ?? 'silent'), { onQuery });
      adminToken ||= app.defaultAdminToken ?? '';
      replicas.push({ name: String.fromCharCode(65 + i), app, url: app.listening.urls[0]!, feedReads: () => reads });
    }
  } catch (err) {
    for (const r of replicas) await r.app.stop();
    await db.drop();
    throw err;
  }
  return {
    db,
    replicas,
    adminToken,
    readyz: async (r) => {
      const res = await fetch(`${r.url}/readyz`);
      const body = (await res.json()) as { checks: { changeSignal?: string; database?: string } };
      return { status: res.status, ...body.checks };
    },
    stop: async () => {
      for (const r of replicas) await r.app.stop();
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
