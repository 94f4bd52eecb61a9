import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** Ports free on loopback right now, for a process that must be told its ports before it starts. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface ServeProcess {
  child: ChildProcess;
  /** The URLs from the "bcs-api listening" log line. */
  urls: string[];
  stdout(): string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Spawns a gateway process and resolves once it logs where it listens (rejects with its output if it exits first). */
export function spawnServe(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ServeProcess> {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the gateway did not start:\n${out}\n${err}`));
    }, opts.timeoutMs ?? 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"bcs-api listening"'));
      if (!line) return;
      clearTimeout(timer);
      resolve({ child, urls: (JSON.parse(line) as { urls: string[] }).urls, stdout: () => out, stderr: () => err, stop });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited with ${code}:\n${out}\n${err}`));
    });
  });
}
