#!/usr/bin/env node
import 'reflect-metadata';
import type { Role } from '../app';
import type { Config } from '../config/config';
import { loadConfig } from '../config/load';
import { ConfigError, isGatewayError } from '../errors';
import { parseCommandLine, USAGE, UsageError, type CommandLine, type Flags } from './usage';

type Admin = (config: Config, target: string, flags: Flags) => Promise<number>;

/**
 * Commands of two words and a target: `user create <name>`, `cluster credentials <id>`, … Loaded on use:
 * the store and the domain are most of a start's modules, and the agent (one per cluster) needs neither.
 */
const ADMIN: Record<string, Record<string, Admin>> = {
  user: { create: async (...a) => (await import('./users')).userCreate(...a) },
  token: { issue: async (...a) => (await import('./users')).tokenIssue(...a) },
  cluster: {
    create: async (...a) => (await import('./cluster')).clusterCreate(...a),
    credentials: async (...a) => (await import('./cluster')).clusterCredentials(...a),
  },
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
      return (await import('./migrate')).migrate(config, { check: values.check, create: values.create, name: rest[0] });
    case 'kubeconfig':
      if (!rest[0]) throw new UsageError('kubeconfig: missing <cluster>');
      return (await import('./kubeconfig')).kubeconfigCommand(config, rest[0], values);
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
