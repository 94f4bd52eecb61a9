import type { MikroORM } from '@mikro-orm/core';
import { BetterSqliteDriver } from '@mikro-orm/better-sqlite';

/**
 * A read of a table every migrated store has. Not `select 1`: SQLite answers that without touching the
 * file, so a database locked by another process would look healthy.
 */
export const PROBE_SQL = 'select 1 from mikro_orm_migrations limit 1';

/** The few calls of better-sqlite3 the probe makes (the package ships no types). */
interface SqliteProbeHandle {
  prepare(sql: string): { get(): unknown };
  close(): void;
}
type SqliteOpen = new (file: string, options: { readonly: boolean; fileMustExist: boolean; timeout: number }) => SqliteProbeHandle;

/**
 * How the store health asks whether the store is back. On SQLite the probe opens its own read-only
 * connection with no busy timeout: the store's connection waits 5 s on a locked file, synchronously,
 * which would freeze the whole process once a second for as long as the lock is held.
 */
export function storeProbe(orm: Pick<MikroORM, 'em' | 'config'>): () => Promise<unknown> {
  const file = orm.config.get('dbName');
  if (orm.config.getDriver() instanceof BetterSqliteDriver && file && file !== ':memory:') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Database = require('better-sqlite3') as SqliteOpen;
    return async () => {
      const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
      try {
        db.prepare(PROBE_SQL).get();
      } finally {
        db.close();
      }
    };
  }
  return () => orm.em.fork().getConnection().execute(PROBE_SQL);
}
