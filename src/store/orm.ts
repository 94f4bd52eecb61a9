import fs from 'node:fs';
import path from 'node:path';
import { MikroORM, type Options } from '@mikro-orm/core';
import { BetterSqliteDriver } from '@mikro-orm/better-sqlite';
import { Migrator } from '@mikro-orm/migrations';
import { MySqlDriver } from '@mikro-orm/mysql';
import type { DatabaseConfig } from '../config/config';
import { ENTITIES } from './entities';
import { reusePreparedStatements } from './sqlite-statements';

/** Repository root, whether running from src (ts) or dist/src (compiled). */
const ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');

export type Dialect = DatabaseConfig['dialect'];

export interface StoreOptions {
  /** Receives every SQL statement; tests count them to prove there is no N+1. */
  onQuery?: (sql: string) => void;
  /**
   * Read (and let `migrate --create` write) the committed schema snapshot. Off for serving: MikroORM
   * rewrites the snapshot from the live database after applying migrations, which must never touch
   * the committed file (and on MariaDB would record its JSON-as-longtext quirks).
   */
  snapshot?: boolean;
}

function migrationOptions(dialect: Dialect, snapshot: boolean): Options['migrations'] {
  return {
    tableName: 'mikro_orm_migrations',
    // Compiled migrations run; new ones are generated as TypeScript next to the committed snapshot.
    path: path.join(ROOT, 'dist', 'migrations', dialect),
    pathTs: path.join(ROOT, 'migrations', dialect),
    glob: 'Migration*.js',
    emit: 'ts',
    snapshot,
    snapshotName: '.snapshot-bcs-api',
    // MySQL commits DDL implicitly, so a transaction there only produces a warning; SQLite has real DDL transactions.
    transactional: dialect === 'sqlite',
    allOrNothing: dialect === 'sqlite',
    silent: true,
  };
}

export function ormOptions(db: DatabaseConfig, opts: StoreOptions = {}): Options {
  const common: Options = {
    entities: ENTITIES,
    extensions: [Migrator],
    migrations: migrationOptions(db.dialect, opts.snapshot ?? false),
    forceUtcTimezone: true,
    // Per-request forks only; a stray use of the global manager is a bug.
    allowGlobalContext: false,
    debug: opts.onQuery ? ['query'] : false,
    logger: opts.onQuery ? (message: string) => opts.onQuery!(message) : () => undefined,
    colors: false,
    discovery: { warnWhenNoEntities: true },
    preferTs: false,
  };
  if (db.dialect === 'sqlite') {
    if (db.path !== ':memory:') fs.mkdirSync(path.dirname(db.path), { recursive: true });
    const pool = {
      afterCreate: (connection: Parameters<typeof reusePreparedStatements>[0], done: (err: Error | null, connection: unknown) => void) => {
        reusePreparedStatements(connection);
        done(null, connection);
      },
    };
    return { ...common, driver: BetterSqliteDriver, dbName: db.path, pool };
  }
  const { host, port, user, password, dbName } = db.target;
  return {
    ...common,
    driver: MySqlDriver,
    host,
    port,
    user,
    password,
    dbName,
    pool: { min: 0, max: db.poolMax },
    charset: 'utf8mb4',
  };
}

export async function openStore(db: DatabaseConfig, opts: StoreOptions = {}): Promise<MikroORM> {
  return MikroORM.init(ormOptions(db, opts));
}

/** Applies pending migrations; returns the names applied. */
export async function migrateUp(orm: MikroORM): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}

export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  return (await orm.getMigrator().getPendingMigrations()).map((m) => m.name);
}

/**
 * Writes a migration for the difference between the entities and the committed snapshot (developers
 * only: run against an empty database of the dialect). Returns the file name, or undefined if nothing
 * changed.
 */
export async function createMigration(orm: MikroORM, name?: string): Promise<string | undefined> {
  const result = await orm.getMigrator().createMigration(undefined, false, false, name);
  return result.diff.up.length ? result.fileName : undefined;
}

/** True when the entities differ from the committed migrations' snapshot. */
export async function migrationNeeded(orm: MikroORM): Promise<boolean> {
  return orm.getMigrator().checkMigrationNeeded();
}
