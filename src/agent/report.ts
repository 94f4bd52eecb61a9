import { createHash } from 'node:crypto';
import { Backoff, GiveUpClock } from './backoff';
import type { AgentRun } from './run';
import { gatewayJson } from './gateway-request';
import { discoverApiservers, readServiceAccount } from './incluster';

/** `{bke-address}/rest/clusters/{id}/credentials`, keeping a path prefix the address may carry. */
export function reportUrl(bke: URL, clusterId: string): URL {
  const base = bke.href.replace(/\/+$/, '');
  return new URL(`${base}/rest/clusters/${encodeURIComponent(clusterId)}/credentials`);
}

/**
 * Report mode: every period, re-read the service account and the apiserver addresses and PUT them, as the
 * original does. Unchanged reports still go out: the gateway takes them as a heartbeat (it moves only
 * `reported_at`, which the cluster status shows). Network errors and 5xx retry sooner, with jittered
 * backoff; a rejection (4xx) waits a whole period, as retrying the same report cannot help.
 */
export async function runReporter(run: AgentRun): Promise<number> {
  const { opts, log, health, metrics } = run;
  const url = reportUrl(opts.bkeAddress, opts.clusterId);
  const backoff = new Backoff(1000, Math.min(30_000, opts.periodMs));
  const clock = new GiveUpClock(opts.giveUpAfterMs);
  let lastSent: string | undefined;
  let lastFailed = true;
  while (!run.stopped) {
    let delay = opts.periodMs;
    try {
      const sa = readServiceAccount(opts.saDir);
      const addresses = opts.externalProxyAddresses.length ? opts.externalProxyAddresses : await discoverApiservers(opts.service!, sa, (msg, detail) => log.warn(detail ?? {}, msg));
      const body = { register_token: opts.registerToken, server_addresses: addresses.join(';'), cacert_data: sa.caPem, user_token: sa.token };
      const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex');
      const res = await gatewayJson(opts, 'PUT', url, body);
      if (res.status < 400) {
        metrics.reports.inc({ result: 'ok' });
        clock.succeeded();
        backoff.reset();
        health.set(true, `last report accepted at ${new Date().toISOString()}`);
        if (digest !== lastSent || lastFailed) log.info({ serverAddresses: body.server_addresses, changed: digest !== lastSent }, 'credentials reported');
        else log.debug('credentials reported (unchanged)');
        lastSent = digest;
        lastFailed = false;
      } else {
        lastFailed = true;
        clock.failed();
        health.set(false, `last report refused: HTTP ${res.status} ${res.codeName ?? ''}`.trim());
        if (res.status >= 500) {
          metrics.reports.inc({ result: 'failed' });
          delay = backoff.next();
        } else {
          metrics.reports.inc({ result: 'rejected' });
        }
        log.error({ status: res.status, code_name: res.codeName, message: res.message, retryInMs: delay }, 'the gateway refused the credentials report');
      }
    } catch (err) {
      lastFailed = true;
      clock.failed();
      metrics.reports.inc({ result: 'failed' });
      delay = backoff.next();
      health.set(false, `last report failed: ${(err as Error).message}`);
      log.warn({ err: (err as Error).message, retryInMs: delay }, 'credentials report failed');
    }
    if (clock.expired()) {
      log.error({ giveUpAfterSeconds: opts.giveUpAfterMs / 1000 }, 'no report accepted for --give-up-after; exiting so the pod restarts');
      return 1;
    }
    await run.sleeper.sleep(delay);
  }
  return 0;
}
