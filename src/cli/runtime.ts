import type { Config } from '../config/config';
import { digestAcl, signalOnce } from '../discovery';
import { createLogger } from '../log';
import { startRuntime, type StartedRuntime } from '../runtime';

/**
 * Opens the store and keyring the way `serve` does (pending migrations applied), for one command, and
 * closes them after. Never creates the default admin: that is `serve`'s first start, which prints its token.
 */
export async function withRuntime<T>(config: Config, fn: (rt: StartedRuntime) => Promise<T>): Promise<T> {
  const logger = cliLogger();
  const rt = await startRuntime({ ...config, createDefaultAdmin: false }, logger);
  let latest = 0;
  rt.deps.changes.subscribe((_kind, _key, feedId) => {
    if (feedId !== undefined) latest = Math.max(latest, feedId);
  });
  try {
    return await fn(rt);
  } finally {
    await rt.close();
    // Serving replicas read the feed at once when told through ZooKeeper, else only at their safety net.
    if (latest && config.zookeeper) {
      const { auth, changePollSeconds } = config.zookeeperClient;
      await signalOnce({ hosts: config.zookeeper, feedId: latest, auth, acl: auth && digestAcl(auth.user, auth.password) }).catch((err: unknown) =>
        logger.warn({ err }, `cannot signal the change through zookeeper; gateways pick it up within ${changePollSeconds ?? 10} s`),
      );
    }
  }
}

/** Warnings only, on stderr: stdout carries what a command prints for scripts. */
export function cliLogger() {
  return createLogger('warn', process.stderr as never);
}
