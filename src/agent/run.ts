import type http from 'node:http';
import { createLogger, type Logger } from '../log';
import { Sleeper } from './backoff';
import { AgentHealth, agentMetrics, boundPort, startHealthServer, type AgentMetrics } from './health';
import { readServiceAccount } from './incluster';
import { AGENT_USAGE, AgentUsageError, agentOptions, parseAgentArgs, type AgentOptions } from './options';

/** What the report loop and the tunnel share: options, log, health, and the shutdown signal. */
export interface AgentRun {
  opts: AgentOptions;
  log: Logger;
  health: AgentHealth;
  metrics: AgentMetrics;
  sleeper: Sleeper;
  stopped: boolean;
  /** Called once on SIGTERM/SIGINT (e.g. to close the tunnel). */
  onStop: Set<() => void>;
}

function startupChecks(opts: AgentOptions): void {
  try {
    readServiceAccount(opts.saDir);
  } catch (err) {
    // Names the file, never its content.
    throw new AgentUsageError(`cannot read the service account (set BCS_AGENT_SERVICEACCOUNT_DIR for a non-standard mount): ${(err as Error).message}`);
  }
}

/**
 * `bcs-api agent`: resolves with the exit status (0 after SIGTERM, 1 after --give-up-after, 2 for a
 * mistake in flags or environment, printed to stderr).
 */
export async function agentMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let opts: AgentOptions;
  try {
    const values = parseAgentArgs(argv);
    if (values.help) {
      process.stdout.write(`${AGENT_USAGE}\n`);
      return 0;
    }
    opts = agentOptions(values, env);
    startupChecks(opts);
  } catch (err) {
    if (!(err instanceof AgentUsageError)) throw err;
    process.stderr.write(`bcs-api agent: ${err.message}\nRun bcs-api agent --help for the flags and environment.\n`);
    return 2;
  }
  const log = createLogger(env['BCS_AGENT_LOG_LEVEL'] || 'info').child({ component: 'agent', cluster: opts.clusterId });
  const run: AgentRun = { opts, log, health: new AgentHealth(), metrics: agentMetrics(), sleeper: new Sleeper(), stopped: false, onStop: new Set() };
  let server: http.Server;
  try {
    server = await startHealthServer(opts.listen, run.health, run.metrics);
  } catch (err) {
    log.error({ err: (err as Error).message, listen: opts.listen }, 'cannot listen for /healthz');
    return 1;
  }
  if (opts.bkeAddress.protocol === 'http:') log.warn('--bke-address is plain http: the register token and the service-account token travel unencrypted');
  if (opts.insecureSkipVerify) log.warn('--insecureSkipVerify: the gateway\'s certificate is not checked');
  log.info({ mode: opts.useWebsocket ? 'websocket' : 'report', bkeAddress: opts.bkeAddress.origin, healthz: `${opts.listen.host}:${boundPort(server)}`, periodSeconds: opts.periodMs / 1000 }, 'bcs-api agent started');
  const stop = (): void => {
    if (run.stopped) return;
    run.stopped = true;
    log.info('stopping');
    for (const f of run.onStop) f();
    run.sleeper.wake();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    const { runTunnel } = await import('./tunnel');
    const { runReporter } = await import('./report');
    return await (opts.useWebsocket ? runTunnel(run) : runReporter(run));
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
