import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reusePreparedStatements } from '../../src/store/sqlite-statements';

interface Db {
  prepare(sql: string): { busy: boolean; all(...params: unknown[]): unknown[]; iterate(): IterableIterator<unknown> };
  exec(sql: string): void;
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Database = require('better-sqlite3') as new (file: string) => Db;

describe('SQLite prepared statements reused per connection', () => {
  it('hands out the same statement for the same text, with its own parameters each time', () => {
    const db = new Database(':memory:');
    reusePreparedStatements(db);
    db.exec('create table t (id integer primary key, name text); insert into t (name) values (\'a\'), (\'b\')');
    const first = db.prepare('select name from t where id = ?');
    assert.equal(db.prepare('select name from t where id = ?'), first);
    assert.deepEqual(first.all(1), [{ name: 'a' }]);
    assert.deepEqual(db.prepare('select name from t where id = ?').all(2), [{ name: 'b' }]);
    assert.notEqual(db.prepare('select name from t where id > ?'), first);
    db.close();
  });

  it('never hands out a statement an open iterator still holds', () => {
    const db = new Database(':memory:');
    reusePreparedStatements(db);
    db.exec('create table t (id integer primary key); insert into t default values; insert into t default values');
    const open = db.prepare('select id from t').iterate();
    open.next();
    const other = db.prepare('select id from t');
    assert.equal(other.busy, false);
    assert.deepEqual(other.all(), [{ id: 1 }, { id: 2 }]);
    open.return?.();
    db.close();
  });
});
