import { PassThrough } from 'node:stream';
import type { WebSocket } from 'ws';
import { exitStatus, runCommand, type Command } from './commands';

/** Server preference, newest first, as the apiserver negotiates (v5 adds the stream CLOSE signal). */
export const wsExecProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

export function chooseExecProtocol(offered: Set<string>): string | false {
  return wsExecProtocols.find((p) => offered.has(p)) ?? false;
}

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

export interface ExecParams {
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export function execParams(url: URL): ExecParams {
  const flag = (k: string) => ['1', 'true'].includes(url.searchParams.get(k) ?? '');
  return { command: url.searchParams.getAll('command'), stdin: flag('stdin'), stdout: flag('stdout'), stderr: flag('stderr'), tty: flag('tty') };
}

const COMMAND_START_DELAY_MS = 100;

/** Runs one command over the channel.k8s.io framing: each binary message is [channel byte, data...]. */
export function serveWebSocketExec(ws: WebSocket, params: ExecParams, commands: Map<string, Command>, onResize: (size: unknown) => void): Promise<number> {
  const protocol = ws.protocol;
  const v5 = protocol === 'v5.channel.k8s.io';
  const statusJson = v5 || protocol === 'v4.channel.k8s.io';
  const abort = new AbortController();
  const stdin = params.stdin ? new PassThrough() : null;
  const send = (channel: number, data: Buffer | string) => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
  };

  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    const data = isBinary ? raw : Buffer.from(raw);
    if (!data.length) return;
    const channel = data[0];
    const payload = data.subarray(1);
    if (channel === STDIN && stdin && !stdin.writableEnded) stdin.write(payload);
    else if (channel === RESIZE) onResize(safeJson(payload));
    else if (channel === CLOSE && v5 && payload[0] === STDIN) stdin?.end();
  });
  ws.on('close', () => {
    stdin?.end();
    abort.abort();
  });

  // client-go's WebSocket executor creates its stream readers only after the handshake returns, and
  // discards ("Unknown stream id") what arrives before; a real container takes longer than that to
  // write its first byte, while this fake would answer in the same tick. Start a little later.
  return new Promise((resolve) => setTimeout(resolve, COMMAND_START_DELAY_MS)).then(() => runCommand(commands, params.command, {
    stdout: (d) => params.stdout && send(STDOUT, d),
    // With a tty, stderr is merged into stdout, as a terminal would.
    stderr: (d) => (params.tty ? send(STDOUT, d) : params.stderr && send(STDERR, d)),
    stdin,
    signal: abort.signal,
  }).then((code) => {
    if (statusJson) send(ERROR, JSON.stringify(exitStatus(params.command, code)));
    else if (code !== 0) send(ERROR, `command terminated with non-zero exit code: exit code ${code}`);
    ws.close(1000);
    return code;
  }));
}

function safeJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return b.toString('utf8');
  }
}
