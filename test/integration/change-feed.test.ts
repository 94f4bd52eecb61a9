/**
 * The change feed follower (what tells a sidecar proxy's caches that a token was revoked) against a real
 * store: rows that commit out of id order, on both dialects with explicit ids, and on MariaDB with two
 * real transactions, the way it happens there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createConnection } from 'mysql2/promise';
import { GAP_GRACE_MS, ChangeFeedFollower } from '../../src/domain/change-feed';
import type { ChangeSignal, ChangeSignalListener } from '../../src/domain/change-signal';
import { ChangeEvent, type ChangeKind } from '../../src/store/entities';
import { DIALECTS } from '../helpers/db';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { waitFor } from '../helpers/wait';

const HOUR = 3_600_000;

for (const dialect of DIALECTS) {
  describe(`change feed follower on ${dialect}`, () => {
    let t: TestRuntime;
    before(async () => {
      t = await startTestRuntime(dialect);
    });
    after(async () => t?.stop());

    /** A feed row written as another process would, with the id it was given. */
    const record = async (id: number, key: string, kind: ChangeKind = 'token'): Promise<void> => {
      const em = t.rt.orm.em.fork();
      em.create(ChangeEvent, { id, kind, key, createdAt: new Date() });
      await em.flush();
    };
    /** Runs `body` with a started follower (polled by hand) and what it has delivered so far. */
    const following = async (body: (heard: string[], feed: ChangeFeedFollower) => Promise<void>, now: () => number = Date.now): Promise<void> => {
      const heard: string[] = [];
      const feed = new ChangeFeedFollower(t.rt, (kind, key) => heard.push(`${kind}:${key}`), { pollMs: HOUR, now });
      await feed.start();
      try {
        await body(heard, feed);
      } finally {
        feed.stop();
      }
    };

    it('delivers a row that commits after a higher id was read, once', async () => {
      await record(100, 'start');
      await following(async (heard, feed) => {
        await record(102, 'b');
        await feed.poll();
        assert.deepEqual(heard, ['token:b']);
        await record(101, 'late');
        await feed.poll();
        assert.deepEqual(heard, ['token:b', 'token:late']);
        await feed.poll();
        await record(103, 'c');
        await feed.poll();
        assert.deepEqual(heard, ['token:b', 'token:late', 'token:c'], 'nothing twice, and reading goes on past the filled gap');
      });
    });

    it('looks for a skipped id for the grace period, then gives it up', async () => {
      let clock = Date.now();
      await record(200, 'start');
      await following(async (heard, feed) => {
        await record(202, 'b');
        await feed.poll();
        clock += GAP_GRACE_MS + 1;
        await feed.poll();
        await record(201, 'too-late');
        await feed.poll();
        assert.deepEqual(heard, ['token:b']);
      }, () => clock);
    });

    it('counts an id missing just below where it started as skipped too', async () => {
      await record(300, 'a');
      await record(302, 'c');
      await following(async (heard, feed) => {
        await record(301, 'late');
        await feed.poll();
        assert.deepEqual(heard, ['token:late']);
      });
    });

    it('a change heard in this process is not delivered again by the poll, also when it fills a gap', async () => {
      await record(400, 'start');
      await following(async (heard, feed) => {
        await record(402, 'b');
        await feed.poll();
        await record(401, 'here');
        t.rt.deps.changes.publish('token', 'here', 401);
        await feed.poll();
        assert.deepEqual(heard, ['token:b', 'token:here']);
      });
    });

    if (dialect === 'mysql') {
      it('MariaDB: a transaction that took its id first and commits last is still delivered', async () => {
        const db = t.rt.config.database;
        assert.ok(db.dialect === 'mysql');
        const { host, port, user, password, dbName } = db.target;
        const [slow, quick] = await Promise.all([0, 1].map(() => createConnection({ host, port, user, password, database: dbName })));
        try {
          await following(async (heard, feed) => {
            await slow!.query('BEGIN');
            await slow!.query("INSERT INTO change_events (kind, `key`, created_at) VALUES ('token', 'revoked-slowly', NOW(3))");
            await quick!.query("INSERT INTO change_events (kind, `key`, created_at) VALUES ('token', 'quick', NOW(3))");
            await feed.poll();
            assert.deepEqual(heard, ['token:quick']);
            await slow!.query('COMMIT');
            await feed.poll();
            assert.deepEqual(heard, ['token:quick', 'token:revoked-slowly']);
          });
        } finally {
          await Promise.all([slow!.end(), quick!.end()]);
        }
      });
    }
  });
}

describe('change feed follower with a change signal', () => {
  let t: TestRuntime;
  before(async () => {
    t = await startTestRuntime('sqlite');
  });
  after(async () => t?.stop());

  /** A signal the test drives: up or down, and "another process committed". */
  class TestSignal implements ChangeSignal {
    readonly safetyNetMs = HOUR;
    isUp = true;
    private readonly listeners = new Set<ChangeSignalListener>();
    notify(): void {}
    up(): boolean {
      return this.isUp;
    }
    subscribe(l: ChangeSignalListener): () => void {
      this.listeners.add(l);
      return () => this.listeners.delete(l);
    }
    fire(feedId?: number): void {
      for (const l of this.listeners) l.signalled(feedId);
    }
    set(up: boolean): void {
      this.isUp = up;
      for (const l of this.listeners) l.health(up);
    }
  }

  it('reads at a signal, polls only at the safety net while it is up, and every pollMs once it is down', async () => {
    const signal = new TestSignal();
    const heard: string[] = [];
    const feed = new ChangeFeedFollower(t.rt, (kind, key) => heard.push(`${kind}:${key}`), { pollMs: 50, signal });
    await feed.start();
    try {
      const record = async (key: string): Promise<void> => {
        const em = t.rt.orm.em.fork();
        em.create(ChangeEvent, { kind: 'token', key, createdAt: new Date() });
        await em.flush();
      };
      assert.equal(feed.intervalMs(), HOUR);
      await record('signalled');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(heard.length, 0, 'not read before the signal (it would have been at 50 ms polling)');
      signal.fire();
      await waitFor('the signalled row', () => heard.includes('token:signalled'));
      signal.set(false);
      assert.equal(feed.intervalMs(), 50);
      await record('polled');
      await waitFor('the row read by polling', () => heard.includes('token:polled'), 1000);
    } finally {
      feed.stop();
    }
  });

  it('keeps reading for a signalled id that commits after the signal (a writer inside a transaction)', async () => {
    const signal = new TestSignal();
    const heard: string[] = [];
    const feed = new ChangeFeedFollower(t.rt, (kind, key) => heard.push(`${kind}:${key}`), { pollMs: 50, signal });
    await feed.start();
    try {
      const em = t.rt.orm.em.fork();
      const last = (await em.find(ChangeEvent, {}, { orderBy: { id: 'desc' }, limit: 1 }))[0]?.id ?? 0;
      signal.fire(last + 1);
      await new Promise((r) => setTimeout(r, 200));
      em.create(ChangeEvent, { id: last + 1, kind: 'token', key: 'late-commit', createdAt: new Date() });
      await em.flush();
      await waitFor('the row committed after its signal', () => heard.includes('token:late-commit'), 1000);
    } finally {
      feed.stop();
    }
  });
});
