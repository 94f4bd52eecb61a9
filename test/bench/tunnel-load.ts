/** The two loads of `bench:tunnel`: the small GET at a fixed concurrency, and one large log body read whole. */
import http from 'node:http';
import https from 'node:https';
import autocannon from 'autocannon';
import { cpuMicros } from './bench-common';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  /** CPU µs per request of each process named in `pids` (gateway, agent, apiserver). */
  cpu: Record<string, number>;
  errors: number;
}

export async function load(url: string, headers: Record<string, string>, connections: number, seconds: number, pids: Record<string, number | undefined>): Promise<LoadResult> {
  const named = Object.entries(pids).filter((e): e is [string, number] => e[1] !== undefined);
  const before = named.map(([, pid]) => cpuMicros(pid));
  const r = await autocannon({ url, connections, duration: seconds, headers });
  const n = Math.max(1, r.requests.total);
  const cpu = Object.fromEntries(named.map(([name, pid], i) => [name, (cpuMicros(pid) - before[i]!) / n]));
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpu, errors: r.errors + r.timeouts + (r.non2xx ?? 0) };
}

/** Reads one response body to its end; MiB/s from the request to the last byte. Fails on a short body. */
export function streamOnce(url: string, token: string, expectBytes: number, ca?: string): Promise<number> {
  const get = url.startsWith('https:') ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let bytes = 0;
    const req = get(url, { headers: { authorization: `Bearer ${token}` }, agent: false, ...(ca ? { ca, servername: 'kubernetes' } : {}) }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`log answered ${res.statusCode}`));
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.once('end', () => {
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        if (bytes !== expectBytes) reject(new Error(`log body ${bytes} bytes, expected ${expectBytes}`));
        else resolve(bytes / 1024 / 1024 / s);
      });
      res.once('error', reject);
    });
    req.on('error', reject);
  });
}
