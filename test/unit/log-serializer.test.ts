/**
 * Driver and ORM errors carry the failed statement with its values (a token lookup's holds the digest of
 * the caller's token). The log keeps their type, code, errno, sqlState and the driver's own words only.
 * The errors here are the ones MikroORM raises: built by its own exception converter from what knex and
 * mysql2 hand it (the shapes seen when MariaDB is cut), and a real one from SQLite.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { DriverException, LockWaitTimeoutException, type MikroORM } from '@mikro-orm/core';
import { MySqlExceptionConverter } from '@mikro-orm/knex';
import { KnexTimeoutError } from 'knex';
import { UnavailableError } from '../../src/errors';
import { createLogger, serializeError } from '../../src/log';
import { ApiToken } from '../../src/store/entities';
import { migrateUp, openStore } from '../../src/store/orm';
import { describeStoreError, isStoreUnavailable } from '../../src/store/outage';
import { LogLines } from '../helpers/log-lines';

const digest = crypto.createHash('sha256').update('bcs_some-token').digest('hex');
const LOOKUP = `select \`a0\`.*, \`u1\`.\`id\` as \`u1__id\`, \`u1\`.\`name\` as \`u1__name\` from \`api_tokens\` as \`a0\` inner join \`users\` as \`u1\` on \`a0\`.\`user_id\` = \`u1\`.\`id\` where \`a0\`.\`digest\` = '${digest}' limit 1`;
const INSERT = "insert into `users` (`name`, `is_super_user`) values ('plain:alice', false)";

/** What knex hands MikroORM when mysql2 cannot connect: the statement prefixed to the socket error. */
function refused(): Error {
  const raw = Object.assign(new Error(`${LOOKUP} - connect ECONNREFUSED 127.0.0.1:3306`), { errno: -111, code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port: 3306, fatal: true });
  return new MySqlExceptionConverter().convertException(raw);
}

/** A server error: mysql2 keeps the server's words in sqlMessage, and they quote the duplicate value. */
function duplicate(value = 'plain:alice'): Error {
  const raw = Object.assign(new Error(`${INSERT.replace('plain:alice', value)} - Duplicate entry '${value}' for key 'users_name_unique'`), {
    code: 'ER_DUP_ENTRY',
    errno: 1062,
    sqlState: '23000',
    sqlMessage: `Duplicate entry '${value}' for key 'users_name_unique'`,
  });
  return new MySqlExceptionConverter().convertException(raw);
}

function logged(write: (logger: ReturnType<typeof createLogger>) => void): { lines: LogLines; text: string } {
  const lines = new LogLines();
  write(createLogger('info', lines));
  return { lines, text: lines.raw.join('\n') };
}

function assertClean(text: string): void {
  assert.doesNotMatch(text, /select |insert into|from `|where /i, text);
  assert.ok(!text.includes(digest), 'no digest');
  assert.ok(!text.includes('plain:alice'), 'no value');
}

describe('log serializer for store errors', () => {
  it('keeps type, code, errno and the driver’s words of a refused connection, and the stack’s frames only', () => {
    const err = refused();
    assert.ok(err instanceof DriverException && err.message.includes(digest), 'the raw error does carry the digest');
    const { lines, text } = logged((log) => log.error({ err }, 'lookup failed'));
    assertClean(text);
    const out = lines.parsed[0]!['err'] as Record<string, unknown>;
    assert.deepEqual(Object.keys(out).sort(), ['code', 'errno', 'message', 'stack', 'type']);
    assert.equal(out['type'], 'DriverException');
    assert.equal(out['code'], 'ECONNREFUSED');
    assert.equal(out['errno'], -111);
    assert.equal(out['message'], 'connect ECONNREFUSED 127.0.0.1:3306');
    assert.match(String(out['stack']), /^DriverException: connect ECONNREFUSED 127\.0\.0\.1:3306\n\s+at /);
    assert.ok(isStoreUnavailable(err));
    assert.deepEqual(describeStoreError(err), { type: 'DriverException', code: 'ECONNREFUSED', errno: -111, message: 'connect ECONNREFUSED 127.0.0.1:3306' });
  });

  it('keeps sqlState and the server’s words with quoted values masked and identifiers kept', () => {
    const err = duplicate();
    const { lines, text } = logged((log) => log.warn({ error: err }, 'insert failed'));
    assertClean(text);
    const out = lines.parsed[0]!['error'] as Record<string, unknown>;
    assert.equal(out['type'], 'UniqueConstraintViolationException');
    assert.equal(out['sqlState'], '23000');
    assert.equal(out['errno'], 1062);
    assert.equal(out['message'], "Duplicate entry '…' for key 'users_name_unique'");
    assert.equal(isStoreUnavailable(err), false, 'a bad write is not an outage');
    assert.equal(isStoreUnavailable(duplicate('Connection lost')), false, 'words in a value do not make an outage');
  });

  it('drops the statement and values knex attaches to a pool timeout', () => {
    const err = Object.assign(new KnexTimeoutError('Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?'), {
      sql: 'select * from `api_tokens` where `digest` = ?',
      bindings: [digest],
    });
    const { lines, text } = logged((log) => log.error({ err }, 'lookup failed'));
    assertClean(text);
    const out = lines.parsed[0]!['err'] as Record<string, unknown>;
    assert.equal(out['type'], 'KnexTimeoutError');
    assert.ok(!('sql' in out) && !('bindings' in out));
    assert.ok(isStoreUnavailable(err));
  });

  it('serializes a wrapping error as pino does, with its driver cause made safe', () => {
    const err = new UnavailableError('cannot load admission webhook configurations', {}, { cause: refused() });
    const { lines, text } = logged((log) => log.warn({ err }, 'reload failed'));
    assertClean(text);
    const out = lines.parsed[0]!['err'] as Record<string, unknown>;
    assert.equal(out['type'], 'UnavailableError');
    assert.equal(out['message'], 'cannot load admission webhook configurations');
    assert.equal(out['code'], 'UNAVAILABLE');
    assert.deepEqual(out['details'], {});
    assert.equal((out['cause'] as Record<string, unknown>)['message'], 'connect ECONNREFUSED 127.0.0.1:3306');
    assert.ok(isStoreUnavailable(err), 'the outage is found through the cause');
  });

  it('cuts statements out of messages logged as strings, and out of a bare logged error’s message', () => {
    const asString = logged((log) => log.warn({ err: refused().message }, 'apply failed, not acked'));
    assertClean(asString.text);
    assert.equal(asString.lines.parsed[0]!['err'], '[statement omitted] - connect ECONNREFUSED 127.0.0.1:3306');
    const bare = logged((log) => log.error(refused()));
    assertClean(bare.text);
    assert.equal(bare.lines.parsed[0]!['msg'], 'connect ECONNREFUSED 127.0.0.1:3306');
  });

  it('leaves other errors and values as they were', () => {
    const err = Object.assign(new Error('cluster BCS-K8S-001: 500: etcd is down'), { status: 500 });
    const out = serializeError(err) as Record<string, unknown>;
    assert.equal(out['message'], 'cluster BCS-K8S-001: 500: etcd is down');
    assert.equal(out['status'], 500);
    assert.match(String(out['stack']), /^Error: cluster BCS-K8S-001: 500: etcd is down\n\s+at /);
    assert.deepEqual(serializeError({ type: 'DriverException', code: 'ECONNRESET' }), { type: 'DriverException', code: 'ECONNRESET' });
    assert.equal(serializeError('connection refused by the webhook'), 'connection refused by the webhook');
  });

  it('cleans a real SQLite error whose statement holds a token digest; SQLITE_BUSY counts as an outage', async () => {
    const orm: MikroORM = await openStore({ dialect: 'sqlite', path: ':memory:' });
    try {
      await migrateUp(orm);
      await orm.em.fork().getConnection().execute('drop table api_tokens');
      const err = await orm.em
        .fork()
        .findOne(ApiToken, { digest })
        .then(
          () => assert.fail('the table is gone'),
          (e: unknown) => e as Error,
        );
      assert.ok(err.message.includes(digest), 'the raw error does carry the digest');
      const { lines, text } = logged((log) => log.error({ err }, 'lookup failed'));
      assertClean(text);
      const out = lines.parsed[0]!['err'] as Record<string, unknown>;
      assert.equal(out['type'], 'TableNotFoundException');
      assert.equal(out['message'], 'no such table: api_tokens');
      assert.equal(isStoreUnavailable(err), false);
    } finally {
      await orm.close(true);
    }
    const busy = new LockWaitTimeoutException(Object.assign(new Error(`${LOOKUP} - database is locked`), { code: 'SQLITE_BUSY' }));
    assert.ok(isStoreUnavailable(busy));
    assert.deepEqual(describeStoreError(busy), { type: 'LockWaitTimeoutException', code: 'SQLITE_BUSY', message: 'database is locked' });
  });
});
