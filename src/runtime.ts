import type { MikroORM } from '@mikro-orm/core';
import type { Config } from './config/config';
import { Keyring, loadOrCreateKeyFile } from './crypto/keyring';
import { reportKeyCollisions } from './domain/cluster-key-report';
import { bootstrapUsers, type BootstrapResult } from './domain/bootstrap';
import { ChangeBus } from './domain/changes';
import type { DomainContext, DomainDeps } from './domain/context';
import type { Logger } from './log';
import { migrateUp, openStore, type StoreOptions } from './store/orm';
import { withStartLock } from './store/start-lock';
import { StoreHealth, type StoreOutageReporter } from './store/outage';

/** Everything the edges (GraphQL, REST, proxy) share for the life of the process. */
export interface Runtime {
  config: Config;
  orm: MikroORM;
  deps: DomainDeps;
  logger: Logger;
  /** Told of failed store calls; logs each outage once and says whether a failure is one (answer 503). */
  storeHealth: StoreOutageReporter;
  /** A fresh unit of work (forked entity manager) for one request. */
  context(): DomainContext;
  close(): Promise<void>;
}

export function keyringFromConfig(config: Config, logger: Logger): Keyring {
  if ('keys' in config.encryption) return new Keyring(config.encryption.keys, config.encryption.primary);
  const { keyring, created } = loadOrCreateKeyFile(config.encryption.keyFile);
  if (created) {
    logger.warn(
      { keyFile: config.encryption.keyFile },
      'created a new encryption key file (mode 0600) for secrets at rest; back it up: without it stored register tokens and cluster credentials cannot be read',
    );
  }
  return keyring;
}

export interface RuntimeOptions extends StoreOptions {
  /** Apply pending migrations before serving (serve does; tests and the CLI may choose). */
  migrate?: boolean;
  now?: () => Date;
}

export type StartedRuntime = Runtime & { bootstrap: BootstrapResult };

export async function startRuntime(config: Config, logger: Logger, opts: RuntimeOptions = {}): Promise<StartedRuntime> {
  const keyring = keyringFromConfig(config, logger);
  const orm = await openStore(config.database, opts);
  try {
    const deps: DomainDeps = { keyring, config, now: opts.now ?? (() => new Date()), changes: new ChangeBus() };
    const context = (): DomainContext => ({ ...deps, em: orm.em.fork() });
    // Replicas starting together take turns: the first migrates and creates the admin, the next find both done.
    const bootstrap = await withStartLock(orm, config.database, async () => {
      if (opts.migrate !== false) {
        const applied = await migrateUp(orm);
        if (applied.length) logger.info({ migrations: applied }, 'applied database migrations');
      }
      return bootstrapUsers(context(), config.bootstrapUsers, config.createDefaultAdmin);
    });
    await reportKeyCollisions(orm.em.fork(), logger);
    if (bootstrap.createdUsers.length) logger.info({ users: bootstrap.createdUsers }, 'created bootstrap users');
    const storeHealth = new StoreHealth(orm, logger);
    const close = async (): Promise<void> => {
      storeHealth.stop();
      await orm.close();
    };
    return { config, orm, deps, logger, storeHealth, context, close, bootstrap };
  } catch (err) {
    await orm.close();
    throw err;
  }
}
