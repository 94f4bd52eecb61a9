import type { Readable } from 'node:stream';

export interface ExecIO {
  stdout(data: Buffer | string): void;
  stderr(data: Buffer | string): void;
  /** Ends when the client closes stdin (v5 close frame, or the connection); null without `stdin=true`. */
  stdin: Readable | null;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** A command the fake "runs" in a container; resolves to the exit code. Tests may register their own. */
export type Command = (args: string[], io: ExecIO) => Promise<number>;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export function defaultCommands(): Map<string, Command> {
  return new Map<string, Command>([
    ['echo', async (args, io) => (io.stdout(args.join(' ') + '\n'), 0)],
    [
      'cat',
      async (_args, io) => {
        if (!io.stdin) return 0;
        for await (const chunk of io.stdin) io.stdout(chunk as Buffer);
        return 0;
      },
    ],
    ['true', async () => 0],
    ['false', async () => 1],
    ['exit', async (args) => Number(args[0] ?? 0) || 0],
    ['sleep', async (args, io) => (await sleep(Number(args[0] ?? 0) * 1000, io.signal), 0)],
  ]);
}

export async function runCommand(commands: Map<string, Command>, argv: string[], io: ExecIO): Promise<number> {
  const [name = '', ...args] = argv;
  const cmd = commands.get(name);
  if (!cmd) {
    io.stderr(`exec: "${name}": executable file not found in $PATH\n`);
    return 127;
  }
  return cmd(args, io);
}

/** The status object exec streams carry on the error channel (v4+), as the kubelet writes it. */
export function exitStatus(argv: string[], code: number): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${argv.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}
