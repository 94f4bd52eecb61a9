/**
 * What the benchmarks share: child processes started and waited for, CPU and memory readings from /proc,
 * idle watches, medians. Each benchmark keeps its own contenders and table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

/** Every process a benchmark started, killed when it ends. */
export const children: ChildProcess[] = [];

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a server and waits for `ready` in its output. With `logFile` its stdout and stderr go to that
 * file instead of a pipe read here: the gateway writes an audit line per request, and reading them in
 * this process would tax the load generator during the gateway's rounds only.
 */
export function start(cmd: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}, logFile?: string, timeoutMs = 30_000): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> {
  const fd = logFile === undefined ? undefined : fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd] });
  if (fd !== undefined) fs.closeSync(fd);
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    let poll: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`${cmd} did not start:\n${out}`));
    }, timeoutMs);
    const check = (): boolean => {
      const m = ready.exec(out);
      if (!m) return false;
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ child, match: m, output: () => out });
      return true;
    };
    if (logFile !== undefined) {
      // Only the first lines are wanted; the file keeps growing with audit lines nobody reads here.
      poll = setInterval(() => {
        out = fs.readFileSync(logFile, 'utf8').slice(0, 65536);
        check();
      }, 50);
    } else {
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (!check()) return;
        // Keep draining but stop collecting.
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
    }
    child.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`${cmd} exited ${code}:\n${out}`));
    });
  });
}

/** Ends every child (SIGTERM, then SIGKILL), removes the work directory and exits. */
export async function stopAll(work: string): Promise<never> {
  for (const c of children) c.kill('SIGTERM');
  await sleep(1500);
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
  process.exit();
}

/** CPU time (user + system) a process has used, in microseconds; /proc counts in clock ticks of 10 ms. */
export function cpuMicros(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

export function rssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

/** Where the kernel sees a process's resident memory (KiB): anonymous (malloc, V8 heap) against file-backed (code). */
export function rssParts(pid: number): { anonKiB: number; fileKiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)![1]);
  return { anonKiB: field('RssAnon'), fileKiB: field('RssFile') };
}

export const median = <T>(xs: T[], by: (x: T) => number): T => [...xs].sort((a, b) => by(a) - by(b))[Math.floor((xs.length - 1) / 2)]!;

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** `n` idle watches at `url`, each on its own HTTP/1.1 connection (plain or TLS, by the agent). */
export async function openWatchesWith(get: typeof http.get, agent: http.Agent, url: string, token: string, n: number): Promise<http.ClientRequest[]> {
  const reqs: http.ClientRequest[] = [];
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve, reject) => {
        const req = get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`watch answered ${res.statusCode}`));
          res.once('data', () => resolve());
          res.resume();
        });
        req.on('error', reject);
        reqs.push(req);
      }),
    ),
  );
  return reqs;
}

export function openWatches(base: string, token: string, n: number): Promise<http.ClientRequest[]> {
  return openWatchesWith(http.get, new http.Agent({ keepAlive: true, maxSockets: Infinity }), `${base}/api/v1/namespaces/default/pods?watch=1`, token, n);
}

/**
 * Registers a fake apiserver as cluster BENCH-K8S-1 through the REST routes (create, register token, the
 * agent's credential report) on a gateway's plain listener; returns the cluster's tunnel path prefix.
 */
export async function registerBenchCluster(base: string, admin: string, fake: { url: string; caPem: string; token: string }): Promise<string> {
  const api = async (method: string, p: string, body?: unknown, auth = true): Promise<unknown> => {
    const res = await fetch(`${base}${p}`, { method, headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${admin}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return res.json();
  };
  const cluster = (await api('POST', '/rest/clusters/bcs', { id: 'BENCH-K8S-1', project_id: 'bench', cluster_type: 'k8s' })) as { identifier: string };
  const [rtoken] = (await api('POST', '/rest/clusters/BENCH-K8S-1/register_tokens')) as { token: string }[];
  await api('PUT', '/rest/clusters/BENCH-K8S-1/credentials', { register_token: rtoken!.token, server_addresses: fake.url, cacert_data: fake.caPem, user_token: fake.token }, false);
  return `/tunnels/clusters/${cluster.identifier}`;
}
