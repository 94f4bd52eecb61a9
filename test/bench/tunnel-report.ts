/** The table `bench:tunnel` prints: each round, the medians, and every target with "met" or "NOT met". */
import os from 'node:os';
import type { LoadResult } from './tunnel-load';

interface WatchCost {
  n: number;
  before: number;
  after: number;
  /** Virtual connections open while the watches were. */
  conns: number;
}

/** RSS (KiB) idle before, 3 s after the agents connected (`busy`), and idle after their RBAC syncs and a settle. */
export interface IdleTunnels {
  n: number;
  before: number;
  after: number;
  busy: number;
  syncs: number;
  syncSeconds: number;
  settleSeconds: number;
  sessions: number;
}

export interface Figures {
  setup: { connections: number; duration: number; rounds: number; logMiB: number; streams: number };
  /** Contender names; index 1 is the dialled cluster, 2 the tunnelled one. */
  contenders: string[];
  perRound: LoadResult[][];
  /** MiB/s per round per contender. */
  streams: number[][];
  /** CPU ms per MiB streamed, per round per contender, by process. */
  streamCpu: Record<string, number>[][];
  tunnels: IdleTunnels;
  /** The same light agents over the plain listener. */
  plainTunnels: IdleTunnels;
  tunnelWatches: WatchCost;
  dialledWatches: WatchCost;
  tunnelBytes: number;
  drainWarmup: number;
  idle: { conns: number; rssKiB: number; heapUsed: number; external: number };
  connsAfterLoad: number;
  drainSeconds?: number;
  connsEnd: number;
  afterLoad: { rssKiB: number; heapUsed: number; external: number; secondsAfterStop: number };
}

/** RSS and heap after the load may exceed the idle level by this much and still count as back. */
const BACK_TOLERANCE = 0.1;

type Median = <T>(xs: T[], by: (x: T) => number) => T;

export function report(f: Figures, median: Median): string {
  const D = 1;
  const T = 2;
  const med = (xs: number[]): number => median(xs, (x) => x);
  const fmt = (n: number | undefined, digits = 0): string => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const rpsRatios = f.perRound.map((r) => r[T]!.rps / (r[D]!.rps || 1));
  const streamRatios = f.streams.map((r) => r[T]! / (r[D]! || 1));
  const perTunnel = (f.tunnels.after - f.tunnels.before) / f.tunnels.n;
  const perPlain = (f.plainTunnels.after - f.plainTunnels.before) / f.plainTunnels.n;
  const perWatch = (w: WatchCost): number => (w.after - w.before) / w.n;
  const rssGrowth = f.afterLoad.rssKiB / f.idle.rssKiB - 1;
  const heapGrowth = f.afterLoad.heapUsed / f.idle.heapUsed - 1;
  const connsBack = f.connsEnd === f.idle.conns;
  const s = f.setup;

  const rows = f.contenders.map((name, k) => {
    const all = f.perRound.map((r) => r[k]!);
    const m = median(all, (x) => x.rps);
    const errors = all.reduce((sum, x) => sum + x.errors, 0);
    const cpu = (p: string): string => fmt(median(all, (x) => x.cpu[p] ?? 0).cpu[p]);
    const scpu = (p: string): string => fmt(med(f.streamCpu.map((r) => r[k]![p] ?? 0)), 1);
    const streaming = `${fmt(med(f.streams.map((r) => r[k]!)))} | ${k === 0 ? '-' : scpu('gateway')} | ${k === T ? scpu('agent') : '-'} | ${scpu('apiserver')}`;
    return `| ${name} | ${fmt(m.rps)}${errors ? ` (${errors} errors/non-2xx)` : ''} | ${fmt(m.p50, 1)} | ${fmt(m.p99, 1)} | ${k === 0 ? '-' : cpu('gateway')} | ${k === T ? cpu('agent') : '-'} | ${cpu('apiserver')} | ${streaming} |`;
  });
  const lines = [
    `GET /api/v1/namespaces/default/pods/bench-pod (${s.connections} connections) and a ${s.logMiB} MiB pod log read whole (${s.streams} per round); each path warmed up, then ${s.rounds} rounds of ${s.duration}s taking turns, median round shown; Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown model'}); all processes on this machine`,
    '',
    'Rounds (requests/s; log MiB/s):',
    ...f.perRound.map((r, i) => `  ${i + 1}: ${r.map((x, k) => `${f.contenders[k]} ${fmt(x.rps)} req/s, p50 ${fmt(x.p50, 1)} ms, p99 ${fmt(x.p99, 1)} ms, ${fmt(f.streams[i]![k])} MiB/s`).join('; ')}`),
    '',
    '| path | requests/s | p50 ms | p99 ms | gateway CPU µs/request | agent CPU µs/request | apiserver CPU µs/request | log MiB/s | gateway CPU ms/MiB | agent CPU ms/MiB | apiserver CPU ms/MiB |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '| figure | measured | target | |',
    '|---|---|---|---|',
    `| tunnel / dialled requests/s | ${fmt(med(rpsRatios), 2)}x (rounds: ${rpsRatios.map((x) => fmt(x, 2)).join(', ')}) | ≥ 0.6x | ${met(med(rpsRatios) >= 0.6)} |`,
    `| tunnel / dialled log MiB/s | ${fmt(med(streamRatios), 2)}x (rounds: ${streamRatios.map((x) => fmt(x, 2)).join(', ')}) | ≥ 0.8x | ${met(med(streamRatios) >= 0.8)} |`,
    `| gateway RSS per idle tunnel (${f.tunnels.n} light agents over TLS; ${f.tunnels.sessions} sessions open; read once their ${f.tunnels.syncs} RBAC syncs had ended, ${fmt(f.tunnels.syncSeconds)} s, and ${fmt(f.tunnels.settleSeconds)} s more) | ${fmt(perTunnel, 1)} KiB (${f.tunnels.before} → ${f.tunnels.after} KiB; 3 s after connecting, syncs running: ${fmt((f.tunnels.busy - f.tunnels.before) / f.tunnels.n, 1)} KiB) | ≤ 64 KiB | ${met(perTunnel <= 64 && f.tunnels.sessions === f.tunnels.n)} |`,
    `| the same agents over the plain listener, read after the TLS ones (no TLS; ${f.plainTunnels.sessions} sessions, ${f.plainTunnels.syncs} syncs) | ${fmt(perPlain, 1)} KiB (${f.plainTunnels.before} → ${f.plainTunnels.after} KiB): the other ${fmt(perTunnel - perPlain, 1)} KiB per tunnel is its TLS connection | none | - |`,
    `| gateway RSS per idle watch through tunnels (${f.tunnelWatches.n} watches over ${f.tunnels.n} tunnels, ${f.tunnelWatches.conns} virtual connections) | ${fmt(perWatch(f.tunnelWatches), 1)} KiB (${f.tunnelWatches.before} → ${f.tunnelWatches.after} KiB) | none (the same ${f.dialledWatches.n} watches on the dialled cluster: ${fmt(perWatch(f.dialledWatches), 1)} KiB; bench:proxy's target ≤ 16 KiB) | - |`,
    `| virtual connections after the load | up to ${f.connsAfterLoad} right after a round's requests → ${f.connsEnd}${f.drainSeconds === undefined ? ' (not back within 150 s)' : ` ${fmt(f.drainSeconds, 1)} s after the load stopped`} | back to idle (${f.idle.conns}) | ${met(connsBack)} |`,
    `| gateway RSS after the load (full GC, ${fmt(f.afterLoad.secondsAfterStop)} s after) | ${f.idle.rssKiB} → ${f.afterLoad.rssKiB} KiB (${rssGrowth >= 0 ? '+' : ''}${fmt(rssGrowth * 100, 1)}%) | idle level (+${BACK_TOLERANCE * 100}%) | ${met(rssGrowth <= BACK_TOLERANCE)} |`,
    `| gateway V8 heap used after the load (full GC) | ${fmt(f.idle.heapUsed / 1048576, 1)} → ${fmt(f.afterLoad.heapUsed / 1048576, 1)} MiB (${heapGrowth >= 0 ? '+' : ''}${fmt(heapGrowth * 100, 1)}%); outside the heap (buffers) ${fmt(f.idle.external / 1048576, 1)} → ${fmt(f.afterLoad.external / 1048576, 1)} MiB | idle level (+${BACK_TOLERANCE * 100}%) | ${met(heapGrowth <= BACK_TOLERANCE)} |`,
    '',
    `Through the tunnel during the rounds: ${fmt(f.tunnelBytes / 1048576)} MiB of Data payloads (bcs_api_tunnel_bytes_total). Virtual connections idle after the warm-up in ${fmt(f.drainWarmup, 1)} s.`,
  ];
  return `${lines.join('\n')}\n`;
}
