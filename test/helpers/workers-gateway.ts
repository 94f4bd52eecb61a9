import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';

const MAIN = path.resolve(__dirname, '../../src/cli/main.js');

/**
 * Starts `bcs-api serve -f <dir>/c.yaml` (a config with `proxy.workers`) and resolves once the primary says
 * every worker listens; returns the process, what it printed so far and the first super user's token.
 */
export async function startWorkersGateway(dir: string): Promise<{ child: ChildProcess; out: string; admin: string }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '-f', path.join(dir, 'c.yaml')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the workers did not start:\n${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"bcs-api workers listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the gateway exited with ${code}:\n${out}`)));
  });
  return { child, out, admin: /(bcs_[A-Za-z0-9]{32})/.exec(out)![1]! };
}

/** One GET on a connection of its own (so the primary hands it to the next worker); its status. */
export function getOnFreshConnection(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
  });
}

/** Per worker id, the sum of the series of `name` whose labels match `labels`. */
export function perWorker(metrics: string, name: string, labels: RegExp = /.*/): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    const m = new RegExp(`^${name}\\{([^}]*)\\} ([0-9.e+-]+)$`).exec(line);
    if (!m || !labels.test(m[1]!)) continue;
    const worker = /worker="(\d+)"/.exec(m[1]!)?.[1];
    if (worker) out.set(worker, (out.get(worker) ?? 0) + Number(m[2]));
  }
  return out;
}
