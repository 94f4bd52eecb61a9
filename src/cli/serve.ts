import cluster from 'node:cluster';
import pino from 'pino';
import { startApp, type App, type Role } from '../app';
import type { Config } from '../config/config';
import { logConfigWarnings } from '../config/warnings';
import { createLogger } from '../log';
import { runPrimary } from '../workers/primary';
import { announceReady } from '../workers/worker';

const LOG_BATCH_BYTES = 8 * 1024;
const LOG_FLUSH_MS = 200;

/** What a first start prints once on stdout (not through the logger, which never carries secrets). */
function firstStartBanner(app: App, config: Config): string {
  const name = app.runtime.bootstrap.defaultAdmin!.name;
  // With first-run TLS the first URL is its listener, whose CA curl must be told about.
  const firstRun = config.autoTls && !config.tls ? config.autoTls : undefined;
  const cacert = firstRun ? `--cacert ${firstRun.dir}/ca.crt ` : '';
  return (
    `\nCreated super user "${name}". Its API token (shown only now):\n\n    ${app.defaultAdminToken}\n\n` +
    `Use it as: curl ${cacert}-H 'Authorization: Bearer <token>' ${app.listening.urls[0]}/graphql\n\n` +
    (firstRun ? 'kubectl reaches clusters through the TLS listener: bcs-api kubeconfig <cluster> -o bcs.kubeconfig (README: Quick start)\n\n' : '')
  );
}

export async function serve(config: Config, role: Role): Promise<void> {
  // `proxy.workers` above 1: this process only forks and tends the workers, each of which serves.
  if (config.proxy.workers > 1 && cluster.isPrimary) {
    const logger = createLogger(config.logLevel, pino.destination({ dest: 1, sync: true }));
    logConfigWarnings(config, logger);
    return runPrimary(config.proxy.workers, logger);
  }
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
  if (!cluster.isWorker) logConfigWarnings(config, logger);
  const app = await startApp(config, logger, { role });
  announceReady();
  if (app.defaultAdminToken) process.stdout.write(firstStartBanner(app, config));
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
