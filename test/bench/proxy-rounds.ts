/**
 * The small-GET rounds of `bench:proxy`: every contender warmed up, then ROUNDS turns each in a fixed
 * order at one concurrency. A row shows the median round for requests/s and CPU, and the median of the
 * rounds' p50 and p99 (each its own median: the round with the median requests/s need not have the
 * median tail). For the gateways, the event-loop delay and GC pauses of each round sit beside them.
 */
import autocannon from 'autocannon';
import { median } from './bench-common';
import { roundRuntime, scrape, type RoundRuntime } from './gateway-runtime';
import { runQueueWait, treeCpuMicros, worstWaitMsPerS } from './process-tree';

export const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
/**
 * The contenders take turns, ROUNDS times: on a shared 2-CPU machine the throughput of everything
 * drifts by ±20% over a minute, so one long run per contender would mostly compare moments.
 */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

export interface Row {
  name: string;
  rps?: number;
  p50?: number;
  p99?: number;
  /** CPU microseconds the proxy's processes spent per request (absent for the direct path). */
  cpu?: number;
  /** CPU microseconds the fake apiserver spent per request: what each way of reaching it costs it. */
  apiCpu?: number;
  /** How long the proxy's main thread (the worst one) waited for a CPU, ms per second: the machine's load, not the proxy's work. */
  waitMs?: number;
  /** The gateway's event-loop delay and GC pauses during the round (median round: worst of the rounds' medians). */
  runtime?: RoundRuntime;
  note?: string;
}

export interface Contender {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** The proxy's process (with its children: a gateway's workers), whose CPU time per request is reported. */
  pid?: number;
  /** A gateway's plain listener: its /metrics gives the event-loop delay and GC pauses of each round. */
  metricsBase?: string;
  /** Warm-up seconds (default 2): workers each compile the hot path on their own share of the load. */
  warmup?: number;
}

export interface Measured {
  connections: number;
  rows: Row[];
  perRound: Row[][];
}

/** The fake apiserver's process, set once it has started. */
export const apiserver: { pid?: number } = {};

export async function load(c: Contender, connections: number, seconds = DURATION): Promise<Row> {
  const cpuBefore = c.pid === undefined ? 0 : treeCpuMicros(c.pid);
  const apiBefore = apiserver.pid === undefined ? 0 : treeCpuMicros(apiserver.pid);
  const before = c.metricsBase ? await scrape(c.metricsBase) : undefined;
  const waitBefore = c.pid === undefined ? undefined : runQueueWait(c.pid);
  const t0 = performance.now();
  const r = await autocannon({ url: c.url, connections, duration: seconds, headers: c.headers ?? {} });
  const waitMs = waitBefore && worstWaitMsPerS(waitBefore, runQueueWait(c.pid!), (performance.now() - t0) / 1000);
  const runtime = before ? roundRuntime(before, await scrape(c.metricsBase!)) : undefined;
  const n = Math.max(1, r.requests.total);
  const cpu = c.pid === undefined ? undefined : (treeCpuMicros(c.pid) - cpuBefore) / n;
  const apiCpu = apiserver.pid === undefined ? undefined : (treeCpuMicros(apiserver.pid) - apiBefore) / n;
  const errors = r.errors + r.timeouts + (r.non2xx ?? 0);
  return { name: c.name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpu, apiCpu, waitMs, runtime, note: errors ? `${errors} errors/non-2xx` : undefined };
}

/** A 2 s warm-up, then the measured run. */
export async function warmLoad(c: Contender, connections: number): Promise<Row> {
  await load(c, connections, 2);
  return load(c, connections);
}

export async function rounds(contenders: Contender[], connections: number): Promise<Measured> {
  for (const c of contenders) await load(c, connections, c.warmup ?? 2);
  const perRound: Row[][] = [];
  for (let i = 0; i < ROUNDS; i += 1) {
    const round: Row[] = [];
    for (const c of contenders) round.push(await load(c, connections));
    perRound.push(round);
  }
  const rows = contenders.map((_c, k) => {
    const all = perRound.map((r) => r[k]!);
    const m = median(all, (r) => r.rps ?? 0);
    const notes = all.map((r) => r.note).filter(Boolean);
    const runtime = m.runtime && {
      ...m.runtime,
      elP99Ms: median(all, (r) => r.runtime?.elP99Ms ?? 0).runtime!.elP99Ms,
      elMaxMs: median(all, (r) => r.runtime?.elMaxMs ?? 0).runtime!.elMaxMs,
    };
    return { ...m, p50: median(all, (r) => r.p50 ?? 0).p50, p99: median(all, (r) => r.p99 ?? 0).p99, runtime, note: notes.length ? notes.join('; ') : undefined };
  });
  return { connections, rows, perRound };
}
