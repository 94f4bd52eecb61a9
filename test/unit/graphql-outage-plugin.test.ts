/**
 * formatError names an unavailable dependency UNAVAILABLE; the outage plugin makes such a response a 503
 * with Retry-After and tells the store health of store failures (which formatError no longer logs).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { MySqlExceptionConverter } from '@mikro-orm/knex';
import { buildSchema } from 'graphql';
import { UnavailableError } from '../../src/errors';
import { createErrorFormatter } from '../../src/graphql/errors';
import { storeOutagePlugin } from '../../src/graphql/outage-plugin';
import { createLogger } from '../../src/log';
import { isStoreUnavailable, STORE_UNAVAILABLE_MESSAGE, type StoreOutageReporter } from '../../src/store/outage';
import { LogLines } from '../helpers/log-lines';

const schema = buildSchema('type Query { store: Int, cluster: Int, broken: Int, fine: Int }');

function storeDown(): Error {
  const raw = Object.assign(new Error("select count(*) as `count` from `clusters` where `id` = 'x' - connect ECONNREFUSED 127.0.0.1:3306"), { code: 'ECONNREFUSED', errno: -111 });
  return new MySqlExceptionConverter().convertException(raw);
}

const rootValue = {
  store: () => Promise.reject(storeDown()),
  cluster: () => Promise.reject(new UnavailableError('cluster BCS-K8S-001: 500: etcd is down')),
  broken: () => Promise.reject(new Error('a bug')),
  fine: () => 1,
};

class CountingHealth implements StoreOutageReporter {
  outages = 0;
  down = false;
  report(err: unknown): boolean {
    if (!isStoreUnavailable(err)) return false;
    this.outages += 1;
    return true;
  }
}

async function run(query: string) {
  const logs = new LogLines();
  const health = new CountingHealth();
  const server = new ApolloServer({ schema, rootValue, formatError: createErrorFormatter(createLogger('info', logs)), plugins: [storeOutagePlugin(health)] });
  await server.start();
  try {
    const res = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: 'POST', headers: new HeaderMap([['content-type', 'application/json']]), search: '', body: { query } },
      context: async () => ({}),
    });
    const text = res.body.kind === 'complete' ? res.body.string : '';
    return { status: res.status ?? 200, retryAfter: res.headers.get('retry-after') ?? null, body: JSON.parse(text), logs, health };
  } finally {
    await server.stop();
  }
}

describe('GraphQL outage plugin', () => {
  it('answers a store failure with 503, Retry-After and UNAVAILABLE, reports it, and logs nothing per request', async () => {
    const r = await run('{ store fine }');
    assert.equal(r.status, 503);
    assert.equal(r.retryAfter, '5');
    assert.deepEqual(r.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code), ['UNAVAILABLE']);
    assert.equal(r.body.errors[0].message, STORE_UNAVAILABLE_MESSAGE);
    assert.equal(r.body.data.fine, 1);
    assert.equal(r.health.outages, 1);
    assert.deepEqual(r.logs.raw, []);
  });

  it('answers another unavailable dependency with 503 and UNAVAILABLE, its message kept', async () => {
    const r = await run('{ cluster }');
    assert.equal(r.status, 503);
    assert.equal(r.retryAfter, '5');
    assert.deepEqual(r.body.errors[0].extensions, { code: 'UNAVAILABLE' });
    assert.equal(r.body.errors[0].message, 'cluster BCS-K8S-001: 500: etcd is down');
    assert.equal(r.health.outages, 0, 'not a store outage');
  });

  it('leaves other failures as they were: 200, INTERNAL_SERVER_ERROR, logged', async () => {
    const r = await run('{ broken }');
    assert.equal(r.status, 200);
    assert.equal(r.retryAfter, null);
    assert.equal(r.body.errors[0].extensions.code, 'INTERNAL_SERVER_ERROR');
    assert.equal(r.logs.withMessage('GraphQL request failed').length, 1);
  });
});
