/**
 * `BENCH_ONLY=stream npm run bench:tunnel`: only the large log body, the paths taking turns for every
 * round, so two shared cores' changing load falls on all of them alike. Prints each round and the ratio
 * of the median MiB/s (tunnel over dialled), with the CPU each process spent per MiB and the gateway's
 * garbage collections per 100 MiB: a count that other load on the machine does not change, unlike CPU
 * time. Most of them are young-generation collections V8 starts for the Buffers allocated outside its
 * heap, so they count the bytes the gateway allocated per byte streamed.
 */
import { cpuMicros, median } from './bench-common';
import { streamOnce } from './tunnel-load';

interface Contender {
  name: string;
  logUrl: string;
  token: string;
  ca?: string;
}

/** The gateway's garbage collections so far: how many, and seconds spent in them. */
export type GcReading = () => Promise<{ count: number; seconds: number }>;

export async function streamRounds(contenders: Contender[], pids: Record<string, number | undefined>, gatewayGc: GcReading, o: { rounds: number; streams: number; logBytes: number }): Promise<string> {
  const named = Object.entries(pids).filter((e): e is [string, number] => e[1] !== undefined);
  const mib = (o.streams * o.logBytes) / 1048576;
  const rates: number[][] = contenders.map(() => []);
  const cpu: Record<string, number>[][] = contenders.map(() => []);
  const gcs: { count: number; ms: number }[][] = contenders.map(() => []);
  for (let r = 0; r < o.rounds; r += 1) {
    for (const [k, c] of contenders.entries()) {
      const gcBefore = await gatewayGc();
      const before = named.map(([, pid]) => cpuMicros(pid));
      const t = process.hrtime.bigint();
      for (let i = 0; i < o.streams; i += 1) await streamOnce(c.logUrl, c.token, o.logBytes, c.ca);
      rates[k]!.push(mib / (Number(process.hrtime.bigint() - t) / 1e9));
      cpu[k]!.push(Object.fromEntries(named.map(([name, pid], i) => [name, (cpuMicros(pid) - before[i]!) / 1000 / mib])));
      const gcAfter = await gatewayGc();
      gcs[k]!.push({ count: ((gcAfter.count - gcBefore.count) * 100) / mib, ms: ((gcAfter.seconds - gcBefore.seconds) * 1000) / mib });
    }
    process.stderr.write(`round ${r + 1}: MiB/s ${rates.map((x) => x[r]!.toFixed(0)).join(', ')}\n`);
  }
  const med = (xs: number[]): number => median(xs, (x) => x);
  const rows = contenders.map((c, k) => {
    const perProc = named.map(([name]) => `${name} ${med(cpu[k]!.map((x) => x[name] ?? 0)).toFixed(1)}`).join(', ');
    const gc = `gateway GCs per 100 MiB ${med(gcs[k]!.map((x) => x.count)).toFixed(0)} (${med(gcs[k]!.map((x) => x.ms)).toFixed(2)} ms/MiB)`;
    return `${c.name}: median ${med(rates[k]!).toFixed(0)} MiB/s (rounds ${rates[k]!.map((x) => x.toFixed(0)).join(', ')}); CPU ms/MiB ${perProc}; ${gc}`;
  });
  const D = 1;
  const T = 2;
  const ratio = med(rates[T]!) / med(rates[D]!);
  const perRound = rates[T]!.map((x, r) => (x / rates[D]![r]!).toFixed(2)).join(', ');
  let out = `${rows.join('\n')}\ntunnel / dialled log MiB/s: ${ratio.toFixed(2)}x (ratio of medians; per round ${perRound}) target ≥ 0.8x\n`;
  // The tunnel of an agent that leaves the apiserver's TLS to the gateway (the original's way), for comparison.
  const G = 3;
  if (rates[G]) {
    const rounds = rates[G].map((x, r) => (x / rates[D]![r]!).toFixed(2)).join(', ');
    out += `tunnel with TLS by the gateway / dialled log MiB/s: ${(med(rates[G]) / med(rates[D]!)).toFixed(2)}x (per round ${rounds})\n`;
  }
  return out;
}
