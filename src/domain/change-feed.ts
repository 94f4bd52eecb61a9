import { changesSince, latestChangeIds, type ChangeListener, type ChangeRecord } from './changes';
import type { ChangeSignal } from './change-signal';
import type { Runtime } from '../runtime';

/**
 * How long an id missing below the newest one read is looked for. Ids are handed out when a row is
 * inserted, not when its transaction commits: on MySQL/MariaDB a transaction holding a lower id can
 * commit after a higher one has been read. (Most missing ids are rolled-back inserts that never come.)
 */
export const GAP_GRACE_MS = 60_000;
/** Missing ids remembered at most: a jump of the counter is not that many open transactions. */
export const MAX_GAPS = 1000;
/** How often the feed is read when no signal tells this process about other processes' changes. */
export const FEED_POLL_MS = 500;
/** How long a signalled id not readable yet (its transaction still open) is looked for at FEED_POLL_MS. */
export const SIGNALLED_GRACE_MS = 10_000;

export interface FollowOptions {
  /** Poll interval without a working change signal (default FEED_POLL_MS). */
  pollMs?: number;
  /** Other processes' commits announced at once; while it works the poll slows to its safety net. */
  signal?: ChangeSignal;
  now?: () => number;
}

/**
 * Keeps in-memory caches current without a database read per request: hears committed changes from
 * this process at once (ChangeBus), and reads the shared change feed for changes made by other
 * processes (replicas, the API when the proxy runs as a sidecar) when the change signal says there are
 * some, else every `pollMs`. One indexed query per read, which also asks again for ids skipped over
 * (see GAP_GRACE_MS), so a change committed out of id order is not lost.
 */
export class ChangeFeedFollower {
  private lastId = 0;
  /** Ids below lastId not seen yet → when they were first missed. */
  private readonly gaps = new Map<number, number>();
  /** Feed ids already delivered through the in-process bus and not yet met by the poll. */
  private readonly heard = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Since the last good poll: `outage` (the store health logs it), `error` (logged here once), or not failing. */
  private failing: false | 'outage' | 'error' = false;
  private polling = false;
  /** Asked to read while a read was running: one more when it ends (that read may predate the commit). */
  private again = false;
  private stopped = false;
  /** The newest id a signal announced and not read yet, since when, and the quick re-read looking for it. */
  private wanted = 0;
  private wantedSince = 0;
  private catchUp: NodeJS.Timeout | undefined;
  private unsignal: (() => void) | undefined;
  private readonly pollMs: number;
  private readonly signal: ChangeSignal | undefined;
  private readonly now: () => number;

  constructor(
    private readonly rt: Runtime,
    private readonly listener: ChangeListener,
    opts: FollowOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? FEED_POLL_MS;
    this.signal = opts.signal;
    this.now = opts.now ?? Date.now;
  }

  /** The poll interval now: the safety net while signals arrive, else `pollMs`. */
  intervalMs(): number {
    return this.signal?.up() ? Math.max(this.pollMs, this.signal.safetyNetMs) : this.pollMs;
  }

  async start(): Promise<void> {
    // Below where reading starts, transactions may still be open too: their ids are gaps like any other.
    const recent = await latestChangeIds(this.rt.orm.em.fork(), MAX_GAPS);
    const last = recent[recent.length - 1] ?? 0;
    const seen = new Set(recent);
    for (let id = Math.max(1, last - MAX_GAPS + 1); id < last; id += 1) if (!seen.has(id)) this.gaps.set(id, this.now());
    this.lastId = last;
    this.unsubscribe = this.rt.deps.changes.subscribe((kind, key, feedId) => {
      // Heard at once; the poll will meet the same row and must not deliver it twice.
      if (feedId !== undefined && (feedId > this.lastId || this.gaps.has(feedId))) this.heard.add(feedId);
      this.listener(kind, key);
    });
    this.unsignal = this.signal?.subscribe({
      signalled: (feedId) => {
        if (feedId !== undefined && feedId > this.wanted) {
          this.wanted = feedId;
          this.wantedSince = this.now();
        }
        void this.poll();
      },
      // Gone: what was committed since the last signal may never be announced, so read now, then often.
      health: (up) => {
        this.schedule();
        if (!up) void this.poll();
      },
    });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => void this.poll(), this.intervalMs());
    this.timer.unref();
  }

  /** Applies everything recorded since the last poll; errors keep the caches serving (a DB blip must not break kubectl). */
  async poll(): Promise<void> {
    // A slow query must not let the next tick read the same rows again. While the store is down nothing
    // can be committed to the feed; the store health's probe, not every tick, finds out when it is back.
    if (this.stopped || this.rt.storeHealth.down) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    this.again = false;
    try {
      this.forgetOldGaps();
      for (;;) {
        const batch = await changesSince(this.rt.orm.em.fork(), this.lastId, [...this.gaps.keys()]);
        for (const c of batch) this.take(c);
        if (batch.length < 1000) break;
      }
      for (const id of this.heard) if (id <= this.lastId && !this.gaps.has(id)) this.heard.delete(id);
      if (this.failing === 'error') this.rt.logger.info('change feed readable again');
      this.failing = false;
    } catch (err) {
      // Every tick fails while the store is down: the store health logs the outage once, not each poll.
      if (this.rt.storeHealth.report(err)) this.failing = 'outage';
      else if (!this.failing) {
        this.rt.logger.warn({ err }, 'cannot read the change feed; proxy caches keep serving what they have');
        this.failing = 'error';
      }
    } finally {
      this.polling = false;
    }
    if (this.again) await this.poll();
    else this.lookForWanted();
  }

  /** A signalled id not read yet: read again soon, not at the safety net (the writer's transaction may be open). */
  private lookForWanted(): void {
    if (!this.wanted || this.catchUp || this.stopped) return;
    const missing = this.wanted > this.lastId || this.gaps.has(this.wanted);
    if (!missing || this.now() - this.wantedSince > SIGNALLED_GRACE_MS) {
      this.wanted = 0;
      return;
    }
    this.catchUp = setTimeout(() => {
      this.catchUp = undefined;
      void this.poll();
    }, this.pollMs);
    this.catchUp.unref();
  }

  /** Rows come oldest first: late commits of missing ids, then the new ones, whose skipped ids become gaps. */
  private take(c: ChangeRecord): void {
    if (c.id <= this.lastId) {
      if (!this.gaps.delete(c.id)) return;
    } else {
      const now = this.now();
      for (let id = Math.max(this.lastId + 1, c.id - MAX_GAPS); id < c.id; id += 1) this.gaps.set(id, now);
      this.lastId = c.id;
      // Oldest first in a Map's order: the ids least likely to still be in an open transaction go.
      for (const id of this.gaps.keys()) {
        if (this.gaps.size <= MAX_GAPS) break;
        this.gaps.delete(id);
      }
    }
    if (!this.heard.delete(c.id)) this.listener(c.kind, c.key);
  }

  private forgetOldGaps(): void {
    const cutoff = this.now() - GAP_GRACE_MS;
    for (const [id, missedAt] of this.gaps) if (missedAt < cutoff) this.gaps.delete(id);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.catchUp);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsignal?.();
    this.unsubscribe?.();
  }
}
