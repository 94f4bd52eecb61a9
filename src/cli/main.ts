#!/usr/bin/env node
import 'reflect-metadata';
import type { Role } from '../app';
import type { Config } from '../config/config';
import { loadConfig } from '../config/load';
import { ConfigError, isGatewayError } from '../errors';
import { clusterCreate, clusterCredentials } from './cluster';
import { kubeconfigCommand } from './kubeconfig';
import { migrate } from './migrate';
import { parseCommandLine, USAGE, UsageError, type CommandLine, type Flags } from './usage';
import { tokenIssue, userCreate } from './users';

type Admin = (config: Config, target: string, flags: Flags) => Promise<number>;

/** Commands of two words and a target: `user create <name>`, `cluster credentials <id>`, … */
const ADMIN: Record<string, Record<string, Admin>> = {
  user: { create: userCreate },
  token: { issue: tokenIssue },
  cluster: { create: clusterCreate, credentials: clusterCredentials },
};

function parse(argv: string[]): CommandLine {
  try {
    return parseCommandLine(argv);
  } catch (err) {
    // node:util's messages name the option and what is wrong with it.
    throw new UsageError((err as Error).message);
  }
}

export async function main(argv: string[]): Promise<number> {
  // The agent runs in a cluster with its own flags (the original kube-agent's) and no gateway config.
  if (argv[0] === 'agent') return (await import('../agent/run')).agentMain(argv.slice(1));
  const { values, positionals } = parse(argv);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command = 'serve', ...rest] = positionals;
  const role = values.role as Role;
  if (!['all', 'api', 'proxy'].includes(role)) throw new ConfigError([`--role: must be all, api or proxy (got "${role}")`]);
  if (command !== 'serve' && command !== 'migrate' && command !== 'kubeconfig' && !ADMIN[command]) {
    throw new UsageError(`unknown command "${command}"`);
  }
  const config = loadConfig({ file: values.config ?? values.file });
  switch (command) {
    case 'serve': {
      // Loaded only to serve: the other commands start in half the time without the edges' modules.
      const { serve } = await import('./serve');
      await serve(config, role);
      return -1;
    }
    case 'migrate':
      return migrate(config, { check: values.check, create: values.create, name: rest[0] });
    case 'kubeconfig':
      if (!rest[0]) throw new UsageError('kubeconfig: missing <cluster>');
      return kubeconfigCommand(config, rest[0], values);
    default: {
      const [verb, target] = rest;
      const run = verb ? ADMIN[command]![verb] : undefined;
      if (!run) throw new UsageError(`${command}: unknown or missing subcommand${verb ? ` "${verb}"` : ''} (${Object.keys(ADMIN[command]!).join(', ')})`);
      if (!target) throw new UsageError(`${command} ${verb}: missing <${command === 'cluster' ? 'id' : command === 'token' ? 'user' : 'name'}>`);
      return run(config, target, values);
    }
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`bcs-api: ${err.message}\nRun bcs-api --help for the commands and their options.\n`);
        process.exit(2);
      }
      if (err instanceof ConfigError || isGatewayError(err)) process.stderr.write(`bcs-api: ${err.message}\n`);
      else process.stderr.write(`bcs-api: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
