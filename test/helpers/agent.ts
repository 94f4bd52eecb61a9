import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { tempDir } from './app';
import { waitFor } from './wait';

export const BIN = path.resolve(__dirname, '../../src/cli/main.js');

/** A service-account mount as the kubelet writes it: `token` and `ca.crt`. */
export function writeServiceAccount(token: string, caPem: string, dir = tempDir('bcs-agent-sa-')): string {
  fs.writeFileSync(path.join(dir, 'token'), token);
  fs.writeFileSync(path.join(dir, 'ca.crt'), caPem);
  return dir;
}

/** The environment a pod gives the agent, pointed at a fake apiserver. */
export function podEnv(opts: { saDir: string; apiserverPort: number; registerToken: string; serverCert?: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    KUBERNETES_SERVICE_PORT: String(opts.apiserverPort),
    BCS_AGENT_SERVICEACCOUNT_DIR: opts.saDir,
    REGISTER_TOKEN: opts.registerToken,
  };
  if (opts.serverCert !== undefined) env.SERVER_CERT = opts.serverCert;
  return env;
}

export interface AgentProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines so far. */
  logs(): Record<string, unknown>[];
  /** Resolves with a log line whose msg contains `text` (after `from` lines), or fails after `timeoutMs`. */
  waitForLog(text: string, timeoutMs?: number, from?: number): Promise<Record<string, unknown>>;
  /** The /healthz port, from the start line. */
  healthPort(): Promise<number>;
  exited: Promise<number | null>;
  /** The exit status, or a failure naming the output if the agent is still running after `timeoutMs`. */
  exitCode(timeoutMs?: number): Promise<number | null>;
  stop(): Promise<void>;
}

export function spawnAgent(args: string[], env: NodeJS.ProcessEnv): AgentProcess {
  const child = spawn(process.execPath, [BIN, 'agent', '--listen-addr', '127.0.0.1:0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const logs = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const waitForLog = (text: string, timeoutMs = 20_000, from = 0) =>
    waitFor(`agent log "${text}" (stdout: ${out.slice(-2000)} stderr: ${err.slice(-500)})`, () => logs().slice(from).find((l) => String(l['msg']).includes(text)), timeoutMs, 50);
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs,
    waitForLog,
    healthPort: async () => Number(String((await waitForLog('bcs-api agent started'))['healthz']).split(':').pop()),
    exited,
    exitCode: (timeoutMs = 30_000) =>
      Promise.race([
        exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the agent did not exit within ${timeoutMs} ms: ${out.slice(-2000)}`)), timeoutMs).unref()),
      ]),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function getHealthz(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Connects the agent dialled so far, by form (`bcs_agent_tunnel_dials_total{connect}`): `tls` when it ended the apiserver's TLS. */
export async function agentDials(agent: AgentProcess): Promise<{ tcp: number; tls: number }> {
  const text = await (await fetch(`http://127.0.0.1:${await agent.healthPort()}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const value = (form: string): number => Number(new RegExp(`^bcs_agent_tunnel_dials_total\\{connect="${form}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { tcp: value('tcp'), tls: value('tls') };
}
