/**
 * The streaming table of `npm run bench:proxy` (`stream` in BENCH_ONLY): one large log body through each
 * contender, read by curl over HTTP/1.1 and over HTTP/2, then 20 concurrent smaller ones, with and
 * without one deliberately slow reader beside them. The contenders take turns in every round (the two
 * shared cores' load changes by the minute); rows show the median round, and the ratios are medians of
 * per-round ratios. Prints MiB/s, CPU ms per MiB of the proxy and of the apiserver (less moved by other
 * load than MiB/s), and the proxy's peak resident-memory growth during the load.
 */
import os from 'node:os';
import path from 'node:path';
import { median, rssKiB, sleep } from './bench-common';
import { curl, measure, slowReaderGrowth, type LoadReading } from './proxy-stream-load';
import { startKubectlProxy, startNginx, startStreamFake, startStreamGateway, type StreamContender, type StreamFake } from './proxy-stream-setup';

const MIB = 1048576;
const ROUNDS = Number(process.env.BENCH_STREAM_ROUNDS ?? 3);
const BIG = Number(process.env.BENCH_STREAM_MIB ?? 256) * MIB;
const SMALL = Number(process.env.BENCH_STREAM_EACH_MIB ?? 64) * MIB;
const PARALLEL = Number(process.env.BENCH_STREAM_PARALLEL ?? 20);
const SLOW_RATE = process.env.BENCH_STREAM_SLOW_RATE ?? '1M';

interface Scenario {
  label: string;
  bytes: number;
  streams: number;
  h2: boolean;
  /** One slow reader (curl --limit-rate) open beside the load, started first. */
  slow?: boolean;
}

const GW = 'bcs-api gateway';

function logUrl(c: StreamContender, h2: boolean, bytes: number): string {
  const q = `limitBytes=${bytes}${c.query ? `&${c.query}` : ''}`;
  return `${h2 ? c.tlsBase : c.base}${c.prefix}/api/v1/namespaces/default/pods/big/log?${q}`;
}

async function run(s: Scenario, c: StreamContender, fake: StreamFake, caFile: string): Promise<LoadReading> {
  const token = c.token;
  const urls = Array.from({ length: s.streams }, () => logUrl(c, s.h2, s.bytes));
  const opts = { h2: s.h2, token, ca: caFile };
  const pids = { proxy: c.pid, apiserver: fake.pid };
  if (!s.slow) return measure(urls, s.bytes, opts, pids, c.pid);
  const base = c.pid === undefined ? undefined : rssKiB(c.pid);
  const slow = curl([logUrl(c, false, 4096 * MIB)], { ...opts, h2: false, limitRate: SLOW_RATE });
  await sleep(1000);
  const r = await measure(urls, s.bytes, opts, pids, c.pid, base);
  slow.child.kill();
  await slow.done;
  return r;
}

const f0 = (n: number): string => n.toFixed(0);
const f1 = (n: number): string => n.toFixed(1);
const med = (xs: number[]): number => median(xs, (x) => x);

export async function streamTable(work: string): Promise<string[]> {
  const fake = await startStreamFake(work);
  const caFile = path.join(work, 'ca.pem');
  const direct: StreamContender = { name: 'direct to apiserver (TLS)', base: fake.url, tlsBase: fake.url, prefix: '', token: fake.token };
  const kubectl = await startKubectlProxy(work, fake);
  const nginx = await startNginx(work, fake);
  const gw = await startStreamGateway(work, fake);
  const gwH2 = { ...gw, name: `${GW}, follow=true (HTTP/2 to the apiserver)`, query: 'follow=true' };
  const gwH1 = { ...gw, name: `${GW} (HTTP/1.1 to the apiserver)` };
  const all = [direct, kubectl, ...(nginx ? [nginx] : []), gwH1, gwH2];
  const scenarios: Scenario[] = [
    { label: `1 × ${BIG / MIB} MiB, HTTP/1.1 client`, bytes: BIG, streams: 1, h2: false },
    { label: `1 × ${BIG / MIB} MiB, HTTP/2 client (TLS)`, bytes: BIG, streams: 1, h2: true },
    { label: `${PARALLEL} × ${SMALL / MIB} MiB concurrent, HTTP/1.1`, bytes: SMALL, streams: PARALLEL, h2: false },
    { label: `${PARALLEL} × ${SMALL / MIB} MiB concurrent + 1 slow reader (${SLOW_RATE}/s), HTTP/1.1`, bytes: SMALL, streams: PARALLEL, h2: false, slow: true },
  ];
  // Warm-up: every path once, so JIT, TLS sessions and pools are in place before anything is measured.
  for (const c of all) await measure([logUrl(c, false, 16 * MIB)], 16 * MIB, { h2: false, token: c.token, ca: caFile }, {}, undefined);
  for (const c of all.filter((x) => x.tlsBase)) await measure([logUrl(c, true, 16 * MIB)], 16 * MIB, { h2: true, token: c.token, ca: caFile }, {}, undefined);

  const table: string[] = [];
  const verdicts: string[] = [];
  /** Median MiB/s of each gateway path per concurrent scenario: with the slow reader against without. */
  const concurrent = new Map<string, number[]>();
  for (const s of scenarios) {
    const who = all.filter((c) => !s.h2 || c.tlsBase);
    const readings: LoadReading[][] = who.map(() => []);
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const [k, c] of who.entries()) readings[k]!.push(await run(s, c, fake, caFile));
      process.stderr.write(`${s.label} round ${r + 1}: ${who.map((c, k) => `${c.name.slice(0, 24)} ${f0(rate(readings[k]![r]!))}`).join(', ')} MiB/s\n`);
    }
    for (const [k, c] of who.entries()) {
      const rs = readings[k]!;
      const failed = rs.reduce((n, x) => n + x.failed, 0);
      const growth = c.pid === undefined ? '-' : f1(Math.max(...rs.map((x) => x.rssGrowthKiB)) / 1024);
      const cpu = (name: string): string => (name === 'proxy' && c.pid === undefined ? '-' : f1(med(rs.map((x) => x.cpuPerMiB[name] ?? 0))));
      table.push(`| ${s.label} | ${c.name} | ${f0(med(rs.map(rate)))} | ${rs.map((x) => f0(rate(x))).join(', ')} | ${cpu('proxy')} | ${cpu('apiserver')} | ${growth}${failed ? ` (${failed} failed)` : ''} |`);
    }
    for (const g of [gwH1, gwH2]) if (s.streams > 1 && who.includes(g)) concurrent.set(g.name, [...(concurrent.get(g.name) ?? []), med(readings[who.indexOf(g)]!.map(rate))]);
    // The gateway against the faster of nginx and kubectl proxy, round by round.
    const peers = who.map((c, k) => ({ c, k })).filter(({ c }) => c === kubectl || c === nginx);
    for (const g of [gwH1, gwH2]) {
      const gk = who.indexOf(g);
      if (!peers.length || gk < 0) continue;
      const ratios = readings[gk]!.map((x, r) => rate(x) / Math.max(...peers.map(({ k }) => rate(readings[k]![r]!))));
      verdicts.push(`${s.label}: ${g.name} / best of ${peers.map(({ c }) => c.name.split(' (')[0]).join(' and ')}: ${med(ratios).toFixed(2)}x (rounds ${ratios.map((x) => x.toFixed(2)).join(', ')}; target ≥ 0.9x)`);
    }
  }
  for (const [name, [without, withSlow]] of concurrent) {
    if (without && withSlow) verdicts.push(`${PARALLEL} streams beside one slow reader, ${name}: ${(withSlow / without).toFixed(2)}x their MiB/s without it (target: not slower, ≈ 1x within noise)`);
  }
  const slowGrowth: string[] = [];
  for (const h2 of [false, true]) {
    const kib = await slowReaderGrowth(logUrl(gwH1, h2, 4096 * MIB), { h2, token: gw.token, ca: caFile, limitRate: SLOW_RATE }, gw.pid!, 5000);
    slowGrowth.push(`${h2 ? 'HTTP/2' : 'HTTP/1.1'} client ${f1(kib / 1024)} MiB`);
  }
  verdicts.push(`one slow reader alone (${SLOW_RATE}/s, 5 s) through the gateway: RSS growth ${slowGrowth.join(', ')} (target ≤ 16 MiB)`);
  return [
    `Streaming: GET .../pods/big/log (${BIG / MIB} MiB, and ${PARALLEL} × ${SMALL / MIB} MiB at once) read by curl ${ROUNDS} rounds, contenders taking turns, median round shown; Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown model'})`,
    '',
    '| load | path | MiB/s | rounds | proxy CPU ms/MiB | apiserver CPU ms/MiB | proxy RSS growth, MiB (peak of rounds) |',
    '|---|---|---|---|---|---|---|',
    ...table,
    '',
    ...verdicts,
    `targets: RSS growth ≤ 16 MiB for one stream, ≤ 64 MiB for ${PARALLEL}; the slow reader does not slow the others (compare the two ${PARALLEL}-stream rows)`,
  ];
}

function rate(x: LoadReading): number {
  return x.bytes / MIB / x.seconds;
}
