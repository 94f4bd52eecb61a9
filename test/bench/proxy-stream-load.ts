/**
 * The streaming loads, driven by curl in a process of its own (one curl for N parallel transfers), so the
 * client is neither this process's event loop nor Node: the figures are the proxy's. While a load runs,
 * the proxy's resident memory is read every 20 ms; its growth is the peak over the reading before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpuMicros, rssKiB } from './bench-common';

export interface CurlOptions {
  h2: boolean;
  token?: string;
  ca: string;
  /** curl's --limit-rate (a slow reader): the client reads no faster, so the proxy must hold back. */
  limitRate?: string;
}

export interface LoadReading {
  seconds: number;
  bytes: number;
  /** Transfers that ended short of their size or not with 200. */
  failed: number;
  /** Peak RSS growth of the proxy during the load, KiB. */
  rssGrowthKiB: number;
  /** CPU ms per MiB of each process named. */
  cpuPerMiB: Record<string, number>;
}

export function curlArgs(urls: string[], o: CurlOptions): string[] {
  const args = ['-s', '-w', '%{http_code} %{size_download}\\n', o.h2 ? '--http2' : '--http1.1', '--cacert', o.ca];
  if (urls.length > 1) args.push('-Z', '--parallel-max', String(urls.length), '--parallel-immediate');
  if (o.token) args.push('-H', `Authorization: Bearer ${o.token}`);
  if (o.limitRate) args.push('--limit-rate', o.limitRate);
  for (const u of urls) args.push('-o', '/dev/null', u);
  return args;
}

/** Starts curl; `done` resolves with what it printed (one line per transfer). */
export function curl(urls: string[], o: CurlOptions): { child: ChildProcess; done: Promise<string> } {
  const child = spawn('curl', curlArgs(urls, o), { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => resolve(out));
  });
  return { child, done };
}

/** Reads the proxy's RSS every 20 ms until `stop`; returns the peak. */
function watchRss(pid: number | undefined): () => number {
  if (pid === undefined) return () => 0;
  let peak = rssKiB(pid);
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rssKiB(pid));
    } catch {
      // the process ended; the last peak stands
    }
  }, 20);
  return () => {
    clearInterval(t);
    return peak;
  };
}

/** `urls` read in parallel to their end, each expected to carry `bytesEach`; CPU and RSS of the named processes. */
export async function measure(urls: string[], bytesEach: number, o: CurlOptions, pids: Record<string, number | undefined>, proxyPid: number | undefined, rssBase?: number): Promise<LoadReading> {
  const named = Object.entries(pids).filter((e): e is [string, number] => e[1] !== undefined);
  const base = rssBase ?? (proxyPid === undefined ? 0 : rssKiB(proxyPid));
  const stopRss = watchRss(proxyPid);
  const before = named.map(([, pid]) => cpuMicros(pid));
  const t0 = process.hrtime.bigint();
  const out = await curl(urls, o).done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const peak = stopRss();
  const lines = out.trim().split('\n').filter(Boolean);
  let bytes = 0;
  let failed = urls.length - lines.length;
  for (const l of lines) {
    const [code, size] = l.split(' ').map(Number);
    bytes += size ?? 0;
    if (code !== 200 || size !== bytesEach) failed += 1;
  }
  const mib = bytes / 1048576 || 1;
  const cpuPerMiB = Object.fromEntries(named.map(([name, pid], i) => [name, (cpuMicros(pid) - before[i]!) / 1000 / mib]));
  return { seconds, bytes, failed, rssGrowthKiB: proxyPid === undefined ? 0 : peak - base, cpuPerMiB };
}

/** A slow reader alone for `ms`: the proxy's peak RSS growth while it holds one stream the client barely reads. */
export async function slowReaderGrowth(url: string, o: CurlOptions, proxyPid: number, ms: number): Promise<number> {
  const base = rssKiB(proxyPid);
  const stopRss = watchRss(proxyPid);
  const slow = curl([url], o);
  await new Promise((r) => setTimeout(r, ms));
  const peak = stopRss();
  slow.child.kill();
  await slow.done;
  return peak - base;
}
