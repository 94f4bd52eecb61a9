import type { Config } from '../config/config';
import { createLogger } from '../log';
import { startRuntime, type StartedRuntime } from '../runtime';

/**
 * Opens the store and keyring the way `serve` does (pending migrations applied), for one command, and
 * closes them after. Never creates the default admin: that is `serve`'s first start, which prints its token.
 */
export async function withRuntime<T>(config: Config, fn: (rt: StartedRuntime) => Promise<T>): Promise<T> {
  const rt = await startRuntime({ ...config, createDefaultAdmin: false }, cliLogger());
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

/** Warnings only, on stderr: stdout carries what a command prints for scripts. */
export function cliLogger() {
  return createLogger('warn', process.stderr as never);
}
