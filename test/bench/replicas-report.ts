/** The table `bench:replicas` prints: median rounds per path, then each figure against its target. */
import { quantile, type Propagation } from './replicas-revoke';
import type { LoadResult } from './tunnel-load';

type Live = { rssKiB: number; heapUsed: number; external: number };

export interface ReplicaFigures {
  setup: { agents: number; vconns: number; rounds: number; seconds: number; loadConnections: number; revocations: number };
  sessions: number;
  relayReady: number;
  drainWarmup: number;
  contenders: string[];
  perRound: LoadResult[][];
  vconns: { perReplica: number[]; sessionsOpen: number; openSeconds: number };
  revocation: Propagation;
  idle: Live[];
  withSessions: Live[];
  after: Live[];
  drainSeconds?: number;
  connsEnd: number[];
  /** Proxied requests still in flight on each replica after the load (every kind). */
  inflightEnd: number[];
  secondsAfterStop: number;
  totalSeconds: number;
}

const MB = 1024 * 1024;
const pct = (after: number, before: number): string => `${after >= before ? '+' : ''}${(((after - before) / before) * 100).toFixed(1)}%`;
const met = (ok: boolean): string => (ok ? 'met' : '**not met**');

export function replicasReport(f: ReplicaFigures, median: <T>(xs: T[], by: (x: T) => number) => T): string {
  const s = f.setup;
  const lines = [
    `Three replicas, ${s.agents} agents (${f.sessions} tunnel sessions), ${s.loadConnections} load connections, ${s.rounds} rounds of ${s.seconds} s, ${s.vconns} virtual connections, ${s.revocations} revocations; ${f.totalSeconds.toFixed(0)} s in all`,
    '',
    '| path | requests/s | p50 ms | p99 ms | holder CPU µs/req | relaying replica CPU µs/req | agent CPU µs/req | errors |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const med = f.contenders.map((name, i) => {
    const m = median(f.perRound.map((r) => r[i]!), (x) => x.rps);
    const relaying = i === 0 ? '-' : m.cpu['relaying']!.toFixed(0);
    lines.push(`| ${name} | ${m.rps.toFixed(0)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${m.cpu['holder']!.toFixed(0)} | ${relaying} | ${m.cpu['agents']!.toFixed(0)} | ${f.perRound.reduce((n, r) => n + r[i]!.errors, 0)} |`);
    return m.rps;
  });
  const ratio = med[1]! / med[0]!;
  const ratios = f.perRound.map((r) => r[1]!.rps / r[0]!.rps);
  const perRound = `per round ${ratios.map((x) => x.toFixed(2)).join(', ')}; their median ${median(ratios, (x) => x).toFixed(2)}x`;
  const p50 = quantile(f.revocation.slowest, 0.5);
  const p99 = quantile(f.revocation.slowest, 0.99);
  const vTotal = f.vconns.perReplica.reduce((x, y) => x + y, 0);
  const rss = f.after.map((x, i) => pct(x.rssKiB, f.idle[i]!.rssKiB)).join(', ');
  // Memory in use: V8's heap and what Node tracks outside it. RSS also holds what malloc keeps after
  // freeing (BENCH_CYCLES shows it plateau, BENCH_MALLOC_TRIM=1 shows it released), so it is reported, not judged.
  const inUse = (x: { heapUsed: number; external: number }): number => x.heapUsed + x.external;
  const inUseOk = f.after.every((x, i) => inUse(x) <= inUse(f.idle[i]!) * 1.1);
  const delta = (k: 'heapUsed' | 'external'): string => f.after.map((x, i) => ((x[k] - f.idle[i]![k]) / MB).toFixed(1)).join(', ');
  const grown = f.withSessions.reduce((n, x, i) => n + x.rssKiB - f.idle[i]!.rssKiB, 0);
  lines.push(
    '',
    '| figure | measured | target | |',
    '|---|---|---|---|',
    `| relayed / local requests/s (ratio of medians) | ${ratio.toFixed(2)}x (${perRound}) | ≥ 0.7x | ${met(ratio >= 0.7)} |`,
    `| revocation on A refused by B and C (slowest of the two) | p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${Math.max(...f.revocation.slowest).toFixed(0)} ms (revoke call p50 ${quantile(f.revocation.revokeCall, 0.5).toFixed(0)} ms) | ≤ 1 s at p99 | ${met(p99 <= 1000)} |`,
    `| virtual connections with ${f.vconns.sessionsOpen} exec sessions open (A, B, C) | ${f.vconns.perReplica.join(', ')} (total ${vTotal}; opened in ${f.vconns.openSeconds.toFixed(0)} s) | ≥ ${s.vconns} | ${met(vTotal >= s.vconns)} |`,
    `| RSS of the three replicas per exec session (holder and relaying side together) | ${(grown / Math.max(1, f.vconns.sessionsOpen)).toFixed(1)} KiB | none | - |`,
    `| virtual connections after the load | ${f.connsEnd.join(', ')}${f.drainSeconds === undefined ? ' (not back within 150 s)' : `, back to 0 within ${f.drainSeconds.toFixed(0)} s`}; requests in flight ${f.inflightEnd.join(', ')} | 0 | ${met(f.drainSeconds !== undefined && f.inflightEnd.every((x) => x === 0))} |`,
    `| memory in use after the load, full GC, against idle (A, B, C) | V8 heap ${delta('heapUsed')} MiB, outside the heap ${delta('external')} MiB (read ${f.secondsAfterStop.toFixed(0)} s after the load) | idle (+10%) | ${met(inUseOk)} |`,
    `| RSS after the load, against idle (A, B, C) | ${rss} (freed memory malloc keeps: see BENCH_CYCLES, BENCH_MALLOC_TRIM) | none | - |`,
    '',
    `Idle RSS (A, B, C): ${f.idle.map((x) => (x.rssKiB / 1024).toFixed(0)).join(', ')} MiB; holders published to every replica ${f.relayReady.toFixed(1)} s after the agents connected.`,
    '',
  );
  return lines.join('\n');
}
