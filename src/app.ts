import type { Config } from './config/config';
import { createGraphqlMounts } from './graphql';
import { healthMounts } from './http/health';
import { startListeners, type Listening } from './http/server';
import type { Mount } from './http/types';
import type { Logger } from './log';
import { createRestMounts } from './rest';
import { startRuntime, type Runtime, type RuntimeOptions, type StartedRuntime } from './runtime';

export type Role = 'all' | 'api' | 'proxy';

export interface App {
  runtime: StartedRuntime;
  listening: Listening;
  /** The default admin's token when this start created it (shown once). */
  defaultAdminToken?: string;
  stop(): Promise<void>;
}

export async function buildMounts(rt: Runtime, role: Role, isShuttingDown: () => boolean): Promise<{ mounts: Mount[]; stop(): Promise<void> }> {
  const mounts: Mount[] = [...healthMounts(rt.orm, isShuttingDown)];
  let stopGraphql = async (): Promise<void> => undefined;
  if (role !== 'proxy') {
    const gql = await createGraphqlMounts(rt);
    stopGraphql = gql.stop;
    mounts.push(...gql.mounts, ...createRestMounts(rt));
  }
  return { mounts, stop: stopGraphql };
}

/** The composition root: store, domain, edges, listeners. */
export async function startApp(config: Config, logger: Logger, opts: RuntimeOptions & { role?: Role } = {}): Promise<App> {
  const runtime = await startRuntime(config, logger, opts);
  let shuttingDown = false;
  try {
    const built = await buildMounts(runtime, opts.role ?? 'all', () => shuttingDown);
    const listening = await startListeners(config, built.mounts, logger);
    return {
      runtime,
      listening,
      defaultAdminToken: runtime.bootstrap.defaultAdmin?.token,
      stop: async () => {
        shuttingDown = true;
        await listening.close();
        await built.stop();
        await runtime.close();
      },
    };
  } catch (err) {
    await runtime.close();
    throw err;
  }
}
