import crypto from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import type { DatabaseConfig } from '../../src/config/config';
import type { MysqlTarget } from '../../src/config/dsn';
import { parseMysqlDsn } from '../../src/config/dsn';

export type Dialect = 'sqlite' | 'mysql';

/** Every persistence and API suite runs once per dialect. */
export const DIALECTS: Dialect[] = ['sqlite', 'mysql'];

/** The MariaDB/MySQL server the tests create their own databases on. */
export function mysqlServer(): MysqlTarget {
  const dsn = process.env.BCS_API_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/mysql';
  const target = parseMysqlDsn(dsn);
  if (typeof target === 'string') throw new Error(`BCS_API_TEST_MYSQL ${target}`);
  return target;
}

export interface TestDatabase {
  config: DatabaseConfig;
  drop(): Promise<void>;
}

/** A fresh, empty database: a temp SQLite file, or a new MariaDB database that `drop` removes. */
export async function createTestDatabase(dialect: Dialect, dir: string): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    return { config: { dialect: 'sqlite', path: `${dir}/test-${crypto.randomBytes(4).toString('hex')}.sqlite` }, drop: async () => undefined };
  }
  const server = mysqlServer();
  const dbName = `bcs_api_test_${crypto.randomBytes(5).toString('hex')}`;
  const conn = await createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
  try {
    await conn.query(`CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
  return {
    config: { dialect: 'mysql', target: { ...server, dbName }, poolMax: 5 },
    drop: async () => {
      const c = await createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
      } finally {
        await c.end();
      }
    },
  };
}
