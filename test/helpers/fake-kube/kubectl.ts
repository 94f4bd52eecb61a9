import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

let checked: string | undefined;

/** Fails (never skips) with how to get kubectl, since the streaming tests need a real client. */
export function requireKubectl(): void {
  if (checked) return;
  const r = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error('kubectl (v1.30 or newer, for WebSocket exec) is not on PATH; install it, e.g. from the Kubernetes apt repository, or `apt-get install -y kubectl` where available');
  }
  checked = JSON.parse(r.stdout).clientVersion?.gitVersion ?? 'unknown';
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  kubeconfig: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  stdin?: string;
}

function kubectlEnv(opts: KubectlOptions): NodeJS.ProcessEnv {
  // A private discovery cache, so one test's fake (or a developer's ~/.kube) never leaks into another's.
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kube-kubectl-cache-'));
  return { ...process.env, KUBECONFIG: opts.kubeconfig, KUBECACHEDIR: cache, ...opts.env };
}

/** Runs kubectl to completion (killed at the timeout). */
export function kubectl(args: string[], opts: KubectlOptions): Promise<KubectlResult> {
  requireKubectl();
  return new Promise((resolve) => {
    const proc = spawn('kubectl', args, { env: kubectlEnv(opts), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    proc.stdin.end(opts.stdin ?? '');
  });
}

export interface RunningKubectl {
  proc: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once stdout matches; rejects with everything printed so far at the timeout or on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a long-running kubectl (`get -w`, `logs -f`) for a test to watch and then stop. */
export function spawnKubectl(args: string[], opts: KubectlOptions): RunningKubectl {
  requireKubectl();
  const proc = spawn('kubectl', args, { env: kubectlEnv(opts), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const hardStop = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const exited = new Promise<void>((r) => proc.on('close', () => (clearTimeout(hardStop), r())));
  return {
    proc,
    get stdout() {
      return out;
    },
    get stderr() {
      return err;
    },
    async waitFor(pattern, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > end || proc.exitCode !== null) {
          throw new Error(`kubectl ${args.join(' ')}: no ${pattern} in output\nstdout: ${out}\nstderr: ${err}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Which port-forward kubectl 1.32 uses: SPDY tunnelled over WebSocket (its default) or a SPDY upgrade. */
export type PortForwardForm = 'websocket' | 'spdy';

export interface PortForward {
  /** The local port kubectl listens on. */
  port: number;
  kubectl: RunningKubectl;
}

/** `kubectl port-forward pod/<name> :<podPort>` in the given form, once it is listening. */
export async function startPortForward(namespace: string, pod: string, podPort: number, form: PortForwardForm, opts: KubectlOptions): Promise<PortForward> {
  const env = { ...opts.env, KUBECTL_PORT_FORWARD_WEBSOCKETS: form === 'websocket' ? 'true' : 'false' };
  const pf = spawnKubectl(['port-forward', '-n', namespace, `pod/${pod}`, `:${podPort}`, '--address', '127.0.0.1'], { ...opts, env, timeoutMs: opts.timeoutMs ?? 60_000 });
  try {
    await pf.waitFor(new RegExp(`Forwarding from 127\\.0\\.0\\.1:\\d+ -> ${podPort}`), 20_000);
  } catch (err) {
    await pf.stop();
    throw err;
  }
  return { port: Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(pf.stdout)![1]), kubectl: pf };
}

/** One connection to a forwarded echo port: writes `data`, resolves with the bytes that came back once as many arrived. */
export function echoThrough(port: number, data: Buffer, timeoutMs = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const sock = net.connect(port, '127.0.0.1', () => sock.write(data));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`port-forward echoed ${got} of ${data.length} bytes`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got < data.length) return;
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks));
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
