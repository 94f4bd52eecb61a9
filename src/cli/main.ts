#!/usr/bin/env node
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { startApp, type Role } from '../app';
import type { Config } from '../config/config';
import { loadConfig } from '../config/load';
import { logConfigWarnings } from '../config/warnings';
import { createUser, findUserByName } from '../domain/users';
import { issueToken } from '../domain/tokens';
import { ConfigError, isGatewayError } from '../errors';
import pino from 'pino';
import { createLogger } from '../log';
import { keyringFromConfig, startRuntime } from '../runtime';
import { createMigration, migrateUp, migrationNeeded, openStore, pendingMigrations } from '../store/orm';

const USAGE = `usage: bcs-api [command] [options]

commands:
  serve                       run the gateway (default)
  migrate                     apply pending database migrations
  migrate --check             exit 1 if the entities need a migration the repo does not have
  migrate --create [name]     write a migration for entity changes (developers)
  user create <name>          create a user  [--super] [--group <g>]...
  token issue <user>          issue an API token and print it once  [--ttl <seconds>] [--name <n>]

options:
  -f, --config <file>         configuration file (YAML or JSON); see README for keys
  --role all|api|proxy        which surfaces to serve (default all)
  -h, --help                  show this help`;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'f' },
      file: { type: 'string' },
      role: { type: 'string', default: 'all' },
      check: { type: 'boolean', default: false },
      create: { type: 'boolean', default: false },
      super: { type: 'boolean', default: false },
      group: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

const LOG_BATCH_BYTES = 8 * 1024;
const LOG_FLUSH_MS = 200;

async function serve(config: Config, role: Role): Promise<void> {
  // Asynchronous, batched writes: one audit line per proxied request must not cost a syscall (and a
  // thread-pool round trip) each. A line waits at most LOG_FLUSH_MS; shutdown flushes what is left.
  const destination = pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES });
  const flusher = setInterval(() => {
    try {
      destination.flush();
    } catch {
      // Destroyed (stdout went away): nothing is left to write to.
    }
  }, LOG_FLUSH_MS).unref();
  const logger = createLogger(config.logLevel, destination);
  logConfigWarnings(config, logger);
  const app = await startApp(config, logger, { role });
  if (app.defaultAdminToken) {
    // Printed once on stdout (not through the logger, which never carries secrets).
    process.stdout.write(
      `\nCreated super user "${app.runtime.bootstrap.defaultAdmin!.name}". Its API token (shown only now):\n\n    ${app.defaultAdminToken}\n\n` +
        `Use it as: curl -H 'Authorization: Bearer <token>' ${app.listening.urls[0]}/graphql\n\n`,
    );
  }
  logger.info({ urls: app.listening.urls, metrics: app.metricsListener?.url, role, database: config.database.dialect }, 'bcs-api listening');
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => {
        clearInterval(flusher);
        destination.flushSync();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function migrate(config: Config, opts: { check: boolean; create: boolean; name?: string }): Promise<number> {
  const orm = await openStore(config.database, { snapshot: opts.check || opts.create });
  try {
    if (opts.check) {
      const needed = await migrationNeeded(orm);
      process.stdout.write(needed ? 'entities differ from the committed migrations: run bcs-api migrate --create\n' : 'migrations are up to date with the entities\n');
      return needed ? 1 : 0;
    }
    if (opts.create) {
      const file = await createMigration(orm, opts.name);
      process.stdout.write(file ? `wrote ${file}\n` : 'no changes\n');
      return 0;
    }
    const pending = await pendingMigrations(orm);
    const applied = await migrateUp(orm);
    process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : `nothing to apply (${pending.length} pending)\n`);
    return 0;
  } finally {
    await orm.close();
  }
}

async function admin(config: Config, words: string[], values: ReturnType<typeof parse>['values']): Promise<number> {
  const logger = createLogger('warn', process.stderr as never);
  keyringFromConfig(config, logger);
  const rt = await startRuntime({ ...config, createDefaultAdmin: false }, logger);
  try {
    const ctx = rt.context();
    const [noun, verb, target] = words;
    if (noun === 'user' && verb === 'create' && target) {
      const user = await createUser(ctx, undefined, { name: target, isSuperUser: values.super, groups: values.group });
      process.stdout.write(`created user ${user.name} (id ${user.id}${user.isSuperUser ? ', super user' : ''})\n`);
      return 0;
    }
    if (noun === 'token' && verb === 'issue' && target) {
      const user = await findUserByName(ctx, target);
      if (!user) {
        process.stderr.write(`user ${target} not found\n`);
        return 1;
      }
      const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
      const issued = await issueToken(ctx, undefined, user, { name: values.name ?? 'cli', type: 'session', ttlSeconds: ttl });
      process.stdout.write(`${issued.secret}\n`);
      process.stderr.write(`token ${issued.token.id} for ${user.name}, expires ${issued.token.expiresAt?.toISOString() ?? 'never'}\n`);
      return 0;
    }
    process.stderr.write(`${USAGE}\n`);
    return 2;
  } finally {
    await rt.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadConfig({ file: values.config ?? values.file });
  const [command = 'serve', ...rest] = positionals;
  const role = values.role as Role;
  if (!['all', 'api', 'proxy'].includes(role)) throw new ConfigError([`--role: must be all, api or proxy (got "${role}")`]);
  switch (command) {
    case 'serve':
      await serve(config, role);
      return -1;
    case 'migrate':
      return migrate(config, { check: values.check, create: values.create, name: rest[0] });
    case 'user':
    case 'token':
      return admin(config, [command, ...rest], values);
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      if (err instanceof ConfigError) process.stderr.write(`bcs-api: ${err.message}\n`);
      else if (isGatewayError(err)) process.stderr.write(`bcs-api: ${err.message}\n`);
      else process.stderr.write(`bcs-api: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
