/**
 * `BENCH_CYCLES` of `bench:replicas`: the exec sessions opened, closed and drained again and again, with
 * each replica's memory read after a full collection at idle and after every cycle. Memory that grows by
 * about the same amount each cycle is a leak; memory that grows in the first cycle and then stays is what
 * the allocator keeps for reuse.
 */
import { execFileSync } from 'node:child_process';
import type WebSocket from 'ws';
import type { MemoryDetail } from './tunnel-gateway';

const MiB = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const MiBk = (kib: number): string => (kib / 1024).toFixed(1);

/** One more cycle: `open` sessions, let them settle, close them, wait for the gauges, read memory. */
export async function cycle(open: () => Promise<WebSocket[]>, drained: () => Promise<unknown>, read: () => Promise<MemoryDetail[]>, settleMs: number): Promise<MemoryDetail[]> {
  const execs = await open();
  await new Promise((r) => setTimeout(r, settleMs));
  for (const x of execs) x.terminate();
  await drained();
  return read();
}

/**
 * `BENCH_MALLOC_TRIM=1`: glibc's `malloc_trim(0)` called in each replica through gdb (diagnosis only:
 * needs gdb and ptrace rights). What RSS gives back is memory glibc held free, not memory in use.
 */
export function mallocTrim(pids: number[]): void {
  for (const pid of pids) execFileSync('gdb', ['-p', String(pid), '-batch', '-ex', 'call (int) malloc_trim(0)'], { stdio: 'ignore', timeout: 60_000 });
}

/** Table rows: per replica, idle then each cycle, RSS and its parts and the handles left. */
export function cyclesReport(names: string[], readings: MemoryDetail[][], trimmed?: MemoryDetail[]): string {
  const lines = [
    '',
    'Memory after a full GC, idle (cycle 0) and after each open/close cycle (MiB):',
    '',
    '| replica | cycle | RSS | RssAnon | RssFile | heapTotal | heapUsed | external | arrayBuffers | handles |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [r, name] of names.entries()) {
    const rows: [string, MemoryDetail][] = readings.map((at, c) => [String(c), at[r]!]);
    if (trimmed) rows.push(['after malloc_trim(0)', trimmed[r]!]);
    for (const [c, m] of rows) {
      const handles = Object.entries(m.handles).map(([k, n]) => `${k} ${n}`).join(', ');
      lines.push(`| ${name} | ${c} | ${MiBk(m.rssKiB)} | ${MiBk(m.anonKiB)} | ${MiBk(m.fileKiB)} | ${MiB(m.usage.heapTotal)} | ${MiB(m.usage.heapUsed)} | ${MiB(m.usage.external)} | ${MiB(m.usage.arrayBuffers)} | ${handles} |`);
    }
  }
  lines.push('');
  return lines.join('\n');
}
