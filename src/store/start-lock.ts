import type { MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/mysql';
import type { DatabaseConfig } from '../config/config';

/** Held while a process migrates and bootstraps; named per database, so other databases on the server do not wait. */
const LOCK_PREFIX = 'bcs-api:start:';
/** Long enough for the slowest migration seen; a process that waits longer fails its start and is restarted. */
const WAIT_SECONDS = 300;

/**
 * Runs `fn` (migrations, then the first admin) while holding a MariaDB/MySQL named lock, so replicas
 * started together on an empty database take turns: DDL is not transactional there, and two processes
 * applying the same migration both fail half-way. The lock belongs to one connection, kept for the
 * duration by an otherwise empty transaction; it goes with the connection if the process dies. SQLite is
 * one file opened by one process, and needs none; nor can a pool of one connection hold it and migrate.
 */
export async function withStartLock<T>(orm: MikroORM, db: DatabaseConfig, fn: () => Promise<T>): Promise<T> {
  if (db.dialect !== 'mysql' || db.poolMax < 2) return fn();
  const em = orm.em.fork() as unknown as EntityManager;
  return em.transactional(async (tx) => {
    const name = `${LOCK_PREFIX}${(await tx.execute<{ db: string }[]>('SELECT DATABASE() AS db'))[0]!.db}`.slice(0, 64);
    const [row] = await tx.execute<{ got: number | null }[]>('SELECT GET_LOCK(?, ?) AS got', [name, WAIT_SECONDS]);
    if (Number(row?.got) !== 1) throw new Error(`another process held the start lock (${name}) for ${WAIT_SECONDS} s`);
    try {
      return await fn();
    } finally {
      await tx.execute('SELECT RELEASE_LOCK(?)', [name]);
    }
  });
}
