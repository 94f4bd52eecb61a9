import path from 'node:path';
import { z } from 'zod';
import type { Config, DatabaseConfig } from './config';
import { parseMysqlDsn } from './dsn';
import { nonEmpty, positiveInt, type SettingReader } from './settings';

const keyItem = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 of [A-Za-z0-9_-]'), key: nonEmpty });

/** A MySQL/MariaDB DSN when one is given (any layout), else SQLite under the data directory. */
export function readDatabase(s: SettingReader, dataDir: string): DatabaseConfig {
  const dsn = s.get('dsn', nonEmpty);
  if (dsn) {
    const target = parseMysqlDsn(dsn);
    if (typeof target !== 'string') return { dialect: 'mysql', target, poolMax: s.get('poolMax', positiveInt, 20) };
    s.problems.push(`${s.keyOf('dsn')}: ${target}`);
    return { dialect: 'sqlite', path: '' };
  }
  const sqlitePath = s.get('sqlitePath', nonEmpty);
  return { dialect: 'sqlite', path: sqlitePath === ':memory:' ? ':memory:' : path.resolve(dataDir, sqlitePath ?? 'bcs-api.sqlite') };
}

/** Inline keys (validated: 32 bytes, unique ids, a primary that exists), else a key file. */
export function readEncryption(s: SettingReader, dataDir: string, cwd: string): Config['encryption'] {
  const keys = s.get('encryptionKeys', z.array(keyItem).min(1));
  if (!keys) return { keyFile: path.resolve(cwd, s.get('encryptionKeyFile', nonEmpty, path.join(dataDir, 'keyring.json'))) };
  const decoded = keys.map((k, i) => {
    const key = Buffer.from(k.key, 'base64');
    if (key.length !== 32) s.problems.push(`encryption.keys[${i}].key: must be 32 bytes encoded as base64 (got ${key.length} bytes)`);
    return { id: k.id, key };
  });
  if (new Set(decoded.map((k) => k.id)).size !== decoded.length) s.problems.push('encryption.keys: key ids must be unique');
  const primary = s.get('encryptionPrimary', nonEmpty, decoded[0]!.id);
  if (!decoded.some((k) => k.id === primary)) s.problems.push(`encryption.primary: no key with id "${primary}" in encryption.keys`);
  return { keys: decoded, primary };
}
