import { changesSince, latestChangeId, type ChangeListener } from './changes';
import type { Runtime } from '../runtime';

/**
 * Keeps in-memory caches current without a database read per request: hears committed changes from
 * this process at once (ChangeBus), and polls the shared change feed for changes made by other
 * processes (the API when the proxy runs as a sidecar). One indexed query per interval.
 */
export class ChangeFeedFollower {
  private lastId = 0;
  /** Feed ids already delivered through the in-process bus, above lastId. */
  private readonly heard = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private failing = false;

  constructor(
    private readonly rt: Runtime,
    private readonly listener: ChangeListener,
    private readonly intervalMs = 500,
  ) {}

  async start(): Promise<void> {
    this.lastId = await latestChangeId(this.rt.orm.em.fork());
    this.unsubscribe = this.rt.deps.changes.subscribe((kind, key, feedId) => {
      // Heard at once; the poll will meet the same row and must not deliver it twice.
      if (feedId !== undefined && feedId > this.lastId) this.heard.add(feedId);
      this.listener(kind, key);
    });
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  /** Applies everything recorded since the last poll; errors keep the caches serving (a DB blip must not break kubectl). */
  async poll(): Promise<void> {
    try {
      for (;;) {
        const batch = await changesSince(this.rt.orm.em.fork(), this.lastId);
        for (const c of batch) {
          if (!this.heard.delete(c.id)) this.listener(c.kind, c.key);
        }
        if (batch.length) this.lastId = batch[batch.length - 1]!.id;
        for (const id of this.heard) if (id <= this.lastId) this.heard.delete(id);
        if (batch.length < 1000) break;
      }
      if (this.failing) this.rt.logger.info('change feed readable again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.rt.logger.warn({ err }, 'cannot read the change feed; proxy caches keep serving what they have');
      this.failing = true;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
  }
}
