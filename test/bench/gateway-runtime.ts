/**
 * The gateway's event-loop delay and GC pauses over one load round, read from its /metrics (prom-client's
 * default metrics: `nodejs_eventloop_lag_*` from perf_hooks.monitorEventLoopDelay, reset at each scrape,
 * and the `nodejs_gc_duration_seconds` histogram from a PerformanceObserver on 'gc'). One scrape before
 * the round and one after: the delay figures are then the round's, the GC figures the difference. With
 * workers every series carries a `worker` label; the delay shown is the worst worker's, GC is summed.
 */

/** monitorEventLoopDelay's sampling interval in prom-client (ms): an idle loop reads this much. */
const SAMPLING_MS = 10;

export interface Scrape {
  /** Per worker (or '' alone): event-loop delay p99 and max since the previous scrape, seconds. */
  elP99: number[];
  elMax: number[];
  /** GC pauses since start, all kinds and workers: count, total seconds, and per bucket bound (s) the count at or below it. */
  gcCount: number;
  gcSum: number;
  gcBuckets: Map<number, number>;
}

export interface RoundRuntime {
  /** Event-loop delay beyond the sampling interval, worst worker, ms. */
  elP99Ms: number;
  elMaxMs: number;
  gcCount: number;
  gcTotalMs: number;
  /** The longest GC pause was at most this (ms): the smallest bucket bound holding every pause of the round. */
  gcLongestMs: number;
}

export async function scrape(base: string): Promise<Scrape> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Scrape = { elP99: [], elMax: [], gcCount: 0, gcSum: 0, gcBuckets: new Map() };
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})? ([0-9.e+-]+|\+Inf)$/.exec(line);
    if (!m) continue;
    const [, name, labels = '', v] = m;
    const value = Number(v);
    if (name === 'nodejs_eventloop_lag_p99_seconds') out.elP99.push(value);
    else if (name === 'nodejs_eventloop_lag_max_seconds') out.elMax.push(value);
    else if (name === 'nodejs_gc_duration_seconds_count') out.gcCount += value;
    else if (name === 'nodejs_gc_duration_seconds_sum') out.gcSum += value;
    else if (name === 'nodejs_gc_duration_seconds_bucket') {
      const le = /le="([^"]+)"/.exec(labels)?.[1];
      if (le && le !== '+Inf') out.gcBuckets.set(Number(le), (out.gcBuckets.get(Number(le)) ?? 0) + value);
    }
  }
  return out;
}

export function roundRuntime(before: Scrape, after: Scrape): RoundRuntime {
  const count = after.gcCount - before.gcCount;
  const bounds = [...after.gcBuckets.keys()].sort((a, b) => a - b);
  const within = bounds.find((le) => (after.gcBuckets.get(le) ?? 0) - (before.gcBuckets.get(le) ?? 0) >= count);
  const beyond = (s: number): number => Math.max(0, s * 1000 - SAMPLING_MS);
  return {
    elP99Ms: beyond(Math.max(0, ...after.elP99)),
    elMaxMs: beyond(Math.max(0, ...after.elMax)),
    gcCount: count,
    gcTotalMs: (after.gcSum - before.gcSum) * 1000,
    gcLongestMs: count === 0 ? 0 : within === undefined ? Infinity : within * 1000,
  };
}

export function formatRuntime(r: RoundRuntime | undefined): { loop: string; gc: string } {
  if (!r) return { loop: '-', gc: '-' };
  const longest = r.gcLongestMs === Infinity ? '> 1000' : `≤ ${r.gcLongestMs}`;
  return { loop: `${r.elP99Ms.toFixed(1)} / ${r.elMaxMs.toFixed(1)}`, gc: `${r.gcCount}, ${r.gcTotalMs.toFixed(0)} ms, longest ${longest} ms` };
}
