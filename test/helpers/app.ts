import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp, type App } from '../../src/app';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { createLogger } from '../../src/log';
import { startRuntime, type StartedRuntime } from '../../src/runtime';
import { createTestDatabase, type Dialect, type TestDatabase } from './db';

export function tempDir(prefix = 'bcs-api-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A configuration for tests: loopback on a free port, a temp data dir, the given database. */
export function testConfig(db: TestDatabase, dir: string, overrides: Partial<Config> = {}): Config {
  const base = loadConfig({ env: { BCS_API_DATA_DIR: dir, BCS_API_PORT: '0', BCS_API_LOG_LEVEL: 'silent' }, cwd: dir });
  // RBAC sync is off unless a suite asks for it: its background reads would land in other suites' statement counts.
  // First-run TLS too (it would take port 8443 and write a CA): the suites that test it ask for it.
  return { ...base, database: db.config, autoTls: undefined, ...overrides, rbac: { ...base.rbac, syncEnabled: false, ...overrides.rbac } };
}

/** Records SQL statements so tests can count them. */
export class QueryLog {
  readonly statements: string[] = [];
  recording = false;
  readonly onQuery = (message: string): void => {
    // The co-deployed proxy polls the change feed in the background; those reads belong to no request.
    if (this.recording && !message.includes('change_events')) this.statements.push(message);
  };
  /** Runs `fn` and returns how many statements it issued. */
  async count(fn: () => Promise<unknown>): Promise<number> {
    this.statements.length = 0;
    this.recording = true;
    try {
      await fn();
    } finally {
      this.recording = false;
    }
    return this.statements.length;
  }
}

export interface TestRuntime {
  rt: StartedRuntime;
  queries: QueryLog;
  dir: string;
  stop(): Promise<void>;
}

export async function startTestRuntime(dialect: Dialect, overrides: Partial<Config> = {}): Promise<TestRuntime> {
  const dir = tempDir();
  const db = await createTestDatabase(dialect, dir);
  const queries = new QueryLog();
  const config = testConfig(db, dir, overrides);
  const rt = await startRuntime(config, createLogger(testLogLevel()), { onQuery: queries.onQuery });
  return {
    rt,
    queries,
    dir,
    stop: async () => {
      await rt.close();
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestApp {
  app: App;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Token of the default super user `admin`. */
  adminToken: string;
  queries: QueryLog;
  dir: string;
  stop(): Promise<void>;
}

/** The whole gateway on a free loopback port, with a fresh database of the dialect. */
export async function startTestApp(dialect: Dialect, overrides: Partial<Config> = {}): Promise<TestApp> {
  const dir = tempDir();
  const db = await createTestDatabase(dialect, dir);
  const queries = new QueryLog();
  const config = testConfig(db, dir, { plain: { address: '127.0.0.1', port: 0 }, ...overrides });
  const app = await startApp(config, createLogger(testLogLevel()), { onQuery: queries.onQuery });
  return {
    app,
    url: app.listening.urls[0]!,
    adminToken: app.defaultAdminToken!,
    queries,
    dir,
    stop: async () => {
      await app.stop();
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Silent unless BCS_TEST_LOG_LEVEL asks for more (debugging a suite). */
function testLogLevel(): Parameters<typeof createLogger>[0] {
  return (process.env.BCS_TEST_LOG_LEVEL as Parameters<typeof createLogger>[0] | undefined) ?? 'silent';
}
