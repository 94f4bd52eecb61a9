import net from 'node:net';
import WebSocket from 'ws';
import { Backoff, GiveUpClock } from './backoff';
import { gatewayTls } from './gateway-request';
import { hostPort, readServiceAccount, serviceUrl, type ServiceAccount } from './incluster';
import type { AgentOptions } from './options';
import type { AgentRun } from './run';
import { TunnelSession, type DialTarget } from './tunnel-session';

export const PING_INTERVAL_MS = 5000;
export const READ_DEADLINE_MS = 60_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_FRAME = 4 * 1024 * 1024;

/** `wss://<host of bke-address>/bcsapi/v1/websocket/connect` (`ws://` when the address is plain http). */
export function tunnelUrl(bke: URL): string {
  return `${bke.protocol === 'https:' ? 'wss' : 'ws'}://${bke.host}/bcsapi/v1/websocket/connect`;
}

/**
 * The original's handshake headers; the params carry the SA token and CA, so they are never logged.
 * `agentTls: true` (our addition; the original gateway ignores fields it does not know) says this agent
 * also takes `tls/<address>` Connects, ending the apiserver's TLS itself.
 */
export function tunnelHeaders(opts: AgentOptions, sa: ServiceAccount): Record<string, string> {
  const params = { address: serviceUrl(opts.service!), userToken: sa.token, caCert: Buffer.from(sa.caPem, 'utf8').toString('base64'), ...(opts.gatewayTls ? {} : { agentTls: true }) };
  return {
    'BCS-API-Tunnel-Module': 'kube-agent',
    'BCS-API-Tunnel-ClusterId': opts.clusterId,
    'BCS-API-Tunnel-Token': opts.registerToken,
    'BCS-API-Tunnel-Params': Buffer.from(JSON.stringify(params), 'utf8').toString('base64'),
  };
}

/** The one target a Connect may name: the apiserver address reported in the params. */
export function allowedTargets(service: { host: string; port: number }): Map<string, DialTarget> {
  const host = net.isIPv6(service.host) ? service.host : service.host.toLowerCase();
  return new Map([[hostPort(host, service.port), { host, port: service.port }]]);
}

/**
 * The masking key of every frame the agent sends: all zeros, which ws takes as "do not mask", so neither
 * the agent nor the gateway runs a byte-by-byte XOR over the tunnel's data. Without ws's optional
 * bufferutil addon that XOR runs in JS: it cost the agent ~5 and the gateway ~8 ms of CPU per MiB and
 * halved log streaming through the tunnel (bench:tunnel). Masking guards proxies against scripts in
 * browsers that choose what a socket sends; the agent is no such client, and its frames travel in TLS.
 */
export const zeroMask = (mask: Buffer): void => void mask.fill(0);

interface SessionEnd {
  /** The handshake succeeded: there was a session. */
  connected: boolean;
  /** Ended on purpose to hand over a rotated token: redial at once. */
  rotated: boolean;
}

/**
 * One websocket session, from dial to close. Pings every 5 s; no frame, ping or pong for 60 s ends it.
 * The service-account token is re-read every period; when it rotated, the session is closed so the next
 * handshake hands the gateway the new one.
 */
function holdSession(run: AgentRun, sa: ServiceAccount): Promise<SessionEnd> {
  const { opts, log, health, metrics } = run;
  return new Promise((resolve) => {
    const ws = new WebSocket(tunnelUrl(opts.bkeAddress), {
      headers: tunnelHeaders(opts, sa),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      perMessageDeflate: false,
      maxPayload: MAX_FRAME,
      followRedirects: false,
      // Unmasked only inside TLS, where no intermediary reads the frames.
      ...(opts.bkeAddress.protocol === 'https:' ? { generateMask: zeroMask, ...gatewayTls(opts) } : {}),
    });
    const session = new TunnelSession(ws, allowedTargets(opts.service!), log, metrics, undefined, opts.gatewayTls ? undefined : sa.caPem);
    let connected = false;
    let rotated = false;
    let readTimer: NodeJS.Timeout | undefined;
    let pingTimer: NodeJS.Timeout | undefined;
    let rotationTimer: NodeJS.Timeout | undefined;
    const alive = (): void => {
      clearTimeout(readTimer);
      readTimer = setTimeout(() => {
        log.warn({ seconds: READ_DEADLINE_MS / 1000 }, 'nothing from the gateway within the read deadline; dropping the tunnel');
        ws.terminate();
      }, READ_DEADLINE_MS);
    };
    // A gateway that does not answer the close frame must not hold the pod past its grace period.
    const stop = (): void => {
      ws.close(1001, 'agent stopping');
      setTimeout(() => ws.terminate(), 2000).unref();
    };
    run.onStop.add(stop);

    ws.on('open', () => {
      connected = true;
      metrics.sessions.inc();
      health.set(true, `tunnel connected since ${new Date().toISOString()}`);
      log.info({ url: tunnelUrl(opts.bkeAddress), address: serviceUrl(opts.service!) }, 'tunnel connected');
      alive();
      pingTimer = setInterval(() => {
        ws.ping();
        session.reconcile();
      }, PING_INTERVAL_MS);
      rotationTimer = setInterval(() => {
        try {
          if (readServiceAccount(opts.saDir).token === sa.token) return;
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'cannot re-read the service account; keeping the tunnel');
          return;
        }
        log.info('service-account token rotated; reconnecting to hand the gateway the new one');
        rotated = true;
        ws.close(1000, 'token rotated');
      }, opts.periodMs);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      alive();
      if (!isBinary) {
        log.warn('text frame on the tunnel; closing the session');
        ws.terminate();
        return;
      }
      session.onFrame(data);
    });
    ws.on('ping', alive);
    ws.on('pong', alive);
    ws.on('error', (err) => {
      const status = /Unexpected server response: (\d+)/.exec(err.message)?.[1];
      if (!connected) metrics.handshakeFailures.inc();
      if (status === '401' || status === '403') {
        log.error({ status: Number(status) }, 'the gateway refused the tunnel: check REGISTER_TOKEN and --cluster-id');
      } else {
        log.warn({ err: err.message }, connected ? 'tunnel error' : 'cannot open the tunnel');
      }
    });
    ws.on('close', (code: number) => {
      clearTimeout(readTimer);
      clearInterval(pingTimer);
      clearInterval(rotationTimer);
      run.onStop.delete(stop);
      session.close();
      if (connected) log.warn({ code }, 'tunnel closed');
      health.set(false, connected ? `tunnel closed (code ${code})` : 'tunnel not connected');
      resolve({ connected, rotated });
    });
  });
}

/**
 * Websocket mode: hold a tunnel, redialling with jittered backoff (1 s doubling to 30 s) after a drop or
 * a refused handshake, and exit 1 once the gateway has accepted none for --give-up-after.
 */
export async function runTunnel(run: AgentRun): Promise<number> {
  const { opts, log } = run;
  const backoff = new Backoff(1000, 30_000);
  const clock = new GiveUpClock(opts.giveUpAfterMs);
  while (!run.stopped) {
    let end: SessionEnd = { connected: false, rotated: false };
    try {
      end = await holdSession(run, readServiceAccount(opts.saDir));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot read the service account');
    }
    if (end.connected) {
      clock.succeeded();
      backoff.reset();
    }
    clock.failed();
    if (run.stopped) break;
    if (clock.expired()) {
      log.error({ giveUpAfterSeconds: opts.giveUpAfterMs / 1000 }, 'no tunnel accepted for --give-up-after; exiting so the pod restarts');
      return 1;
    }
    if (end.rotated) continue;
    const delay = backoff.next();
    log.info({ retryInMs: delay }, 'redialling the tunnel');
    await run.sleeper.sleep(delay);
  }
  return 0;
}
