import { parseArgs } from 'node:util';

export const USAGE = `usage: bcs-api [command] [options]

commands:
  serve                       run the gateway (default)
  migrate                     apply pending database migrations
  migrate --check             exit 1 if the entities need a migration the repo does not have
  migrate --create [name]     write a migration for entity changes (developers)
  user create <name>          create a user  [--super] [--group <g>]...
  token issue <user>          issue an API token and print it once  [--ttl <seconds>] [--name <n>]
  cluster create <id>         register a cluster and print its register token  [--project <p>] [--type k8s|mesos]
  cluster credentials <id>    store the cluster's apiserver credential, as its bcs-kube-agent would report it
                                --server <https://apiserver:6443> (repeatable) --ca-file <ca.pem> --token-file <sa.token>
  kubeconfig <cluster>        issue a token and write a kubeconfig for kubectl through this gateway
                                [--user <name> (default admin)] [--ttl <seconds>] [-o <file> (default stdout)]
  agent [flags]               run in a cluster as its bcs-kube-agent (report credentials or hold a tunnel);
                                flags and environment: bcs-api agent --help

options:
  -f, --config <file>         configuration file (YAML or JSON); see README for keys
  --role all|api|proxy        which surfaces to serve (default all)
  -h, --help                  show this help

The commands other than serve and agent work on the same configuration and database as serve (the same -f and
BCS_API_* variables), also while it runs.`;

export function parseCommandLine(argv: string[]) {
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
      project: { type: 'string' },
      type: { type: 'string' },
      server: { type: 'string', multiple: true },
      'ca-file': { type: 'string' },
      'token-file': { type: 'string' },
      user: { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

export type CommandLine = ReturnType<typeof parseCommandLine>;
export type Flags = CommandLine['values'];

/** A mistake on the command line: printed with a pointer to --help, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `--ttl` as whole seconds, or undefined when not given. */
export function ttlFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(value)) throw new UsageError('--ttl: must be a whole number of seconds');
  return Number(value);
}
