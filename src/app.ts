import { createProxy } from '../proxy';
import type { Config } from './config/config';
import { createGraphqlMounts } from './graphql';
import { healthMounts } from './http/health';
import { startListeners, type Listening } from './http/server';
import type { Mount } from './http/types';
import type { Logger } from './log';
import { createRegistry, metricsMount } from './metrics';
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

/**
 * The one place `src/` reaches into `proxy/`: the co-deployed proxy shares this process's runtime
 * (store, keyring, change bus) unless it runs alone as a sidecar (`--role proxy`).
 */
export async function buildMounts(rt: Runtime, role: Role, isShuttingDown: () => boolean): Promise<{ mounts: Mount[]; stop(): Promise<void> }> {
  const registry = createRegistry();
  const mounts: Mount[] = [...healthMounts(rt.orm, isShuttingDown), metricsMount(registry)];
  const stops: (() => Promise<void>)[] = [];
  if (role !== 'api') {
    const proxy = await createProxy(rt, registry);
    stops.push(proxy.stop);
    mounts.push(...proxy.mounts);
  }
  if (role !== 'proxy') {
    const gql = await createGraphqlMounts(rt);
    stops.push(gql.stop);
    mounts.push(...gql.mounts, ...createRestMounts(rt));
  }
  return { mounts, stop: async () => void (await Promise.all(stops.map((s) => s()))) };
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
