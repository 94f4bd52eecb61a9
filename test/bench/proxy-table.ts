/**
 * The small-GET tables of `bench:proxy`, one per concurrency, each round listed under its table, and the
 * targets of the tunnel proxy against nginx judged from them.
 */
import { median } from './bench-common';
import { formatRuntime } from './gateway-runtime';
import type { Measured, Row } from './proxy-rounds';

export const NGINX = 'nginx (nginx-light, 1 worker)';
export const GATEWAY = 'bcs-api tunnel (super user)';
export const gatewayWorkers = (n: number): string => `bcs-api tunnel, proxy.workers: ${n} (super user)`;

const fmt = (n: number | undefined, digits = 0): string => (n === undefined ? '-' : n.toFixed(digits));
const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || !b ? undefined : a / b);

/** One concurrency's table; `rows` has the direct path first. */
export function smallGetTable(m: Measured, rows: Row[]): string[] {
  const d = rows[0]?.rps;
  const nginx = rows.find((r) => r.name === NGINX);
  const lines = [
    `| path | requests/s | p50 ms | p99 ms | vs direct | p99 / nginx p99 | proxy CPU µs/request | apiserver CPU µs/request | proxy waiting for a CPU, ms/s | gateway event-loop delay p99 / max ms | gateway GC pauses (count, total, longest) |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const rt = formatRuntime(r.runtime);
      const vsNginx = nginx && r !== nginx ? ratio(r.p99, nginx.p99) : undefined;
      return `| ${r.name} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.rps && d ? `${((r.rps / d) * 100).toFixed(0)}%` : '-'}${r.note ? ` (${r.note})` : ''} | ${vsNginx === undefined ? '-' : `${vsNginx.toFixed(2)}x`} | ${fmt(r.cpu)} | ${fmt(r.apiCpu)} | ${fmt(r.waitMs)} | ${rt.loop} | ${rt.gc} |`;
    }),
    '',
    `Each round at ${m.connections} connections (requests/s; p99 ms; gateway event-loop delay p99/max ms; proxy main thread waiting for a CPU):`,
    ...(m.perRound[0] ?? []).map((_r, k) => {
      const all = m.perRound.map((round) => round[k]!);
      const loop = all.some((r) => r.runtime) ? `; loop ${all.map((r) => formatRuntime(r.runtime).loop).join(', ')}` : '';
      const wait = all.some((r) => r.waitMs !== undefined) ? `; waiting for a CPU ${all.map((r) => fmt(r.waitMs)).join(', ')} ms/s` : '';
      return `- ${all[0]!.name}: ${all.map((r) => fmt(r.rps)).join(', ')}; p99 ${all.map((r) => fmt(r.p99)).join(', ')}${loop}${wait}`;
    }),
  ];
  return lines;
}

export interface TargetInputs {
  tables: Measured[];
  cores: number;
  /** KiB per idle watch, each measurement. */
  watchKiB: number[];
  /** ms until every worker refused a revoked token, each revocation. */
  revocationMs: number[];
}

/** The targets against nginx, each with the figure measured (medians of rounds) and whether it is met. */
export function targetLines(t: TargetInputs): string[] {
  const out = ['| target | measured | met |', '|---|---|---|'];
  const row = (m: Measured, name: string): Row | undefined => m.rows.find((r) => r.name === name);
  /** Median over rounds of gateway/nginx for one figure. */
  const perRound = (m: Measured, name: string, f: (r: Row) => number | undefined): number | undefined => {
    const k = m.perRound[0]?.findIndex((r) => r.name === name) ?? -1;
    const n = m.perRound[0]?.findIndex((r) => r.name === NGINX) ?? -1;
    if (k < 0 || n < 0) return undefined;
    const rs = m.perRound.map((r) => ratio(f(r[k]!), f(r[n]!))).filter((x): x is number => x !== undefined);
    return rs.length ? median(rs, (x) => x) : undefined;
  };
  const judge = (label: string, value: number | undefined, ok: (v: number) => boolean, detail: string): void => {
    out.push(`| ${label} | ${value === undefined ? 'not measured' : `${value.toFixed(2)}x ${detail}`} | ${value === undefined ? '-' : ok(value) ? 'yes' : '**no**'} |`);
  };
  const many = gatewayWorkers(t.cores);
  for (const m of t.tables) {
    for (const name of [GATEWAY, many]) {
      const g = row(m, name);
      const nx = row(m, NGINX);
      if (!g) continue;
      const label = name === GATEWAY ? '1 worker' : `${t.cores} workers`;
      judge(`gateway p99 ≤ 2x nginx p99, c=${m.connections}, ${label}`, ratio(g.p99, nx?.p99), (v) => v <= 2, `(${fmt(g.p99)} / ${fmt(nx?.p99)} ms, medians of rounds; median per-round ratio ${fmt(perRound(m, name, (r) => r.p99), 2)}x)`);
      const floor = name === GATEWAY ? 0.5 : 0.7;
      judge(`gateway requests/s ≥ ${floor}x nginx, c=${m.connections}, ${label}`, perRound(m, name, (r) => r.rps), (v) => v >= floor, `(median of per-round ratios; ${fmt(g.rps)} / ${fmt(nx?.rps)} median rounds)`);
    }
  }
  const worstWatch = t.watchKiB.length ? Math.max(...t.watchKiB) : undefined;
  out.push(`| idle watch ≤ 16 KiB | ${worstWatch === undefined ? 'not measured' : `${worstWatch.toFixed(1)} KiB (worst of ${t.watchKiB.map((x) => x.toFixed(1)).join(', ')})`} | ${worstWatch === undefined ? '-' : worstWatch <= 16 ? 'yes' : '**no**'} |`);
  const worstRevoke = t.revocationMs.length ? Math.max(...t.revocationMs) : undefined;
  out.push(`| revocation ≤ 1 s in every worker (${t.cores} workers) | ${worstRevoke === undefined ? 'not measured' : `${worstRevoke.toFixed(0)} ms (each: ${t.revocationMs.map((x) => x.toFixed(0)).join(', ')})`} | ${worstRevoke === undefined ? '-' : worstRevoke <= 1000 ? 'yes' : '**no**'} |`);
  return out;
}
