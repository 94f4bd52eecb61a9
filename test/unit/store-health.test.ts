/** The store health: two log lines per outage whatever the number of failures, and a probe that finds its end. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MikroORM } from '@mikro-orm/core';
import { createLogger } from '../../src/log';
import { StoreHealth } from '../../src/store/outage';
import { LogLines } from '../helpers/log-lines';
import { waitFor } from '../helpers/wait';

/** What mysql2 raises when it cannot connect. */
const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', fatal: true });
/** The probe is given; the ORM is never reached. */
const noOrm = {} as unknown as Pick<MikroORM, 'em' | 'config'>;

function healthWith(probe: () => Promise<unknown>): { health: StoreHealth; logs: LogLines } {
  const logs = new LogLines();
  return { health: new StoreHealth(noOrm, createLogger('info', logs), 10, probe), logs };
}

describe('store health', () => {
  it('logs an outage once however many failures are reported, and its end once when the probe answers', async () => {
    let up = false;
    let probes = 0;
    const { health, logs } = healthWith(async () => {
      probes += 1;
      if (!up) throw refused();
    });
    try {
      for (let i = 0; i < 50; i += 1) assert.equal(health.report(refused()), true);
      assert.equal(health.down, true);
      await waitFor('a few failed probes', () => probes >= 3);
      assert.equal(health.down, true);
      up = true;
      await waitFor('the end of the outage', () => !health.down);
      assert.deepEqual(
        logs.parsed.map((l) => l['msg']),
        ['store unavailable: requests that need it are answered 503 until it is back', 'store available again'],
      );
      assert.deepEqual(logs.parsed[0]!['cause'], { type: 'Error', code: 'ECONNREFUSED', errno: -111, message: 'connect ECONNREFUSED 127.0.0.1:3306' });
      assert.equal(logs.parsed[1]!['failedRequests'], 50);
      const after = probes;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(probes, after, 'no probing once the store is back');
    } finally {
      health.stop();
    }
  });

  it('says false and logs nothing for failures that are not outages', () => {
    const { health, logs } = healthWith(async () => undefined);
    const dup = Object.assign(new Error("Duplicate entry '…' for key 'users_name_unique'"), { code: 'ER_DUP_ENTRY', errno: 1062 });
    assert.equal(health.report(dup), false);
    assert.equal(health.report(new Error('a bug')), false);
    // A cluster or webhook refusing a connection is that peer's failure, not the store's.
    assert.equal(health.report(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' })), false);
    assert.equal(health.down, false);
    assert.deepEqual(logs.raw, []);
  });

  it('counts a probe that fails for another reason than an outage as the store being back', async () => {
    const { health, logs } = healthWith(async () => {
      throw Object.assign(new Error("Table 'db.mikro_orm_migrations' doesn't exist"), { code: 'ER_NO_SUCH_TABLE', errno: 1146, fatal: false });
    });
    try {
      health.report(refused());
      await waitFor('the end of the outage', () => !health.down);
      assert.equal(logs.withMessage('store available again').length, 1);
    } finally {
      health.stop();
    }
  });
});
