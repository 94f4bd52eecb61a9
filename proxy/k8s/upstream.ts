import tls from 'node:tls';
import crypto from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ClusterSecrets } from '../../src/domain/credentials';
import { Client, Pool, buildConnector } from 'undici';
import { H2Pool } from './h2-pool';
import { whenAgentTlsEstablished, type UpstreamConnection } from '../tunnel/agent-tls';

export interface UpstreamOptions {
  /** Name checked in the apiserver certificate; the original always used `kubernetes`. */
  serverName: string;
  healthIntervalMs: number;
  connectTimeoutMs: number;
  /**
   * Which plain requests go over HTTP/2 where the apiserver offers it. 'long-running' (default):
   * watches and follows share one session, short requests use the HTTP/1.1 pool: measured on
   * `npm run bench:proxy`, Node's h2 client costs more CPU per request than a keep-alive socket
   * (about 10-20% fewer requests/s), while idle streams cost a fraction of a TLS connection each.
   */
  http2?: 'all' | 'long-running' | 'off';
  /**
   * Reaches the apiserver through a connection of this function's making (an agent tunnel) instead of a
   * TCP dial; TLS, CA and server name are checked over it exactly as on a dialled connection.
   */
  dial?: (url: URL) => Duplex;
  /**
   * Given only with the credential the cluster's agent brought (agentTerminatedDial): its connections
   * carry plain HTTP/1.1, the agent having verified the apiserver against its in-cluster CA. Used for
   * short requests, non-follow bodies and upgrades instead of TLS over `dial`; long-running requests keep
   * HTTP/2 with TLS over `dial` (the agent offers only http/1.1 on its own TLS).
   */
  plainDial?: (url: URL) => Duplex;
  /** Which tunnel `dial` goes through (this process's, or a peer's), part of the fingerprint. */
  via?: string;
  /**
   * How long an idle HTTP/1.1 keep-alive connection (`h1`, 30 s; less if the server says so) and an
   * HTTP/2 session with no stream (`h2`, 120 s) are kept (config `proxy.idle_connection_seconds`,
   * `proxy.idle_h2_session_seconds`).
   */
  idleMs?: { h1: number; h2: number };
}

export const DEFAULT_IDLE_MS = { h1: 30_000, h2: 120_000 };

interface Address {
  url: URL;
  healthy: boolean;
}

/** An address's HTTP/1.1 keep-alive pool and its TLS connector, which long-running requests' own clients share. */
interface H1Origin {
  pool: Pool;
  connect: buildConnector.connector;
}

const noop = (): void => undefined;

/**
 * One cluster's apiservers: HTTP/2 sessions and, for apiservers without h2, a keep-alive HTTP/1.1
 * pool, both verifying the stored CA; and the list of addresses with their health. Requests spread
 * over healthy addresses; one that refuses a connection is marked down at once and checked again in
 * the background, never on a request's path.
 */
export class ClusterUpstream {
  /** Keep-alive HTTP/1.1 connections per address (undici: no cap on connections, so nothing queues). */
  private readonly h1Origins = new Map<string, H1Origin>();
  /** HTTP/1.1 clients of long-running requests in flight: a deleted cluster cuts them as it cuts its pools. */
  private readonly h1Streams = new Set<Client>();
  /** Undefined when HTTP/2 is switched off: every request then uses the HTTP/1.1 pools. */
  readonly h2: H2Pool | undefined;
  private readonly h2ForAll: boolean;
  /** Identifies the credential this pool was built from, so a new report rebuilds it. */
  readonly fingerprint: string;
  private readonly addresses: Address[];
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    readonly secrets: ClusterSecrets,
    private readonly opts: UpstreamOptions,
  ) {
    this.fingerprint = ClusterUpstream.fingerprintOf(secrets, opts.via ?? (opts.dial ? 'tunnel' : 'direct'));
    this.addresses = secrets.serverAddresses.map((a) => ({ url: new URL(a), healthy: true }));
    this.h2ForAll = opts.http2 === 'all';
    // Long-running requests stay on HTTP/2 with the gateway's own TLS even where the agent could end it
    // (`plainDial` serves HTTP/1.1 only): many watches then share one virtual connection and one TLS
    // session, where agent-ended TLS would cost a virtual connection (of the tunnel's 1,024) per watch.
    this.h2 =
      opts.http2 === 'off'
        ? undefined
        : new H2Pool((url) => this.tlsOptions(url), { connectTimeoutMs: opts.connectTimeoutMs, http1RetryMs: 60_000, idleMs: (opts.idleMs ?? DEFAULT_IDLE_MS).h2, pingIntervalMs: 30_000, pingTimeoutMs: 15_000 });
  }

  /** The HTTP/2 pool a request should use, or undefined for the HTTP/1.1 pool. */
  h2For(longRunning: boolean): H2Pool | undefined {
    return longRunning || this.h2ForAll ? this.h2 : undefined;
  }

  /**
   * The HTTP/1.1 pool of one address. Every connection verifies the cluster CA under the configured
   * name, whatever address it dials. Idle connections are kept `idleMs.h1`.
   */
  h1For(url: URL): Pool {
    return this.h1Origin(url).pool;
  }

  /**
   * An undici client of its own for one long-running request over HTTP/1.1 (a watch or a follow to an
   * apiserver without h2), given back with `endH1Stream`. Not the pool: undici 7 puts an in-flight
   * request that is aborted back among the pending ones when its socket closes, and dials a new
   * connection only to drop it; 200 watches closed at once left 200 fresh idle connections to the
   * apiserver for the keep-alive timeout (3-4 s against Node's server, 30 s against kube-apiserver).
   * A destroyed client dials nothing. It shares the pool's connector, so TLS sessions are resumed.
   */
  openH1Stream(url: URL): Client {
    const client = new Client(url.origin, { pipelining: 1, headersTimeout: 0, bodyTimeout: 0, connect: this.h1Origin(url).connect });
    this.h1Streams.add(client);
    return client;
  }

  /** Closes a long-running request's client: `abort` cuts its connection at once, otherwise it closes once idle. */
  endH1Stream(client: Client, abort: boolean): void {
    if (!this.h1Streams.delete(client)) return;
    if (abort) client.destroy(noop);
    else client.close(noop);
  }

  private h1Origin(url: URL): H1Origin {
    let origin = this.h1Origins.get(url.origin);
    if (!origin) {
      const plainDial = this.opts.plainDial;
      const connect: buildConnector.connector = plainDial
        ? (_opts, callback) => whenAgentTlsEstablished(plainDial(url), this.opts.connectTimeoutMs, callback as (err: Error | null, conn?: Duplex) => void)
        : this.opts.dial
        ? (_opts, callback) => this.connectThroughDial(url, callback)
        : buildConnector(this.directConnectOptions(url) as buildConnector.BuildOptions);
      const pool = new Pool(url.origin, { connections: null, pipelining: 1, keepAliveTimeout: (this.opts.idleMs ?? DEFAULT_IDLE_MS).h1, headersTimeout: 0, bodyTimeout: 0, connect });
      origin = { pool, connect };
      this.h1Origins.set(url.origin, origin);
    }
    return origin;
  }

  private directConnectOptions(url: URL): Pool.Options['connect'] {
    const { ca, servername, checkServerIdentity, rejectUnauthorized, ALPNProtocols } = this.tlsOptions(url);
    return { ca, servername, checkServerIdentity, rejectUnauthorized, ALPNProtocols, timeout: this.opts.connectTimeoutMs };
  }

  /** undici's connector for `dial`: TLS over the dialled stream, handed over once verified. */
  private connectThroughDial(url: URL, callback: (...args: [null, tls.TLSSocket] | [Error, null]) => void): void {
    const socket = tls.connect(this.tlsOptions(url));
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), this.opts.connectTimeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      callback(err, null);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      // TLS over a JS stream can report 'close' before 'error' when the tunnel drops; undici's error
      // handler assumes the opposite order and would throw, so an error after close is not emitted.
      let closed = false;
      socket.prependListener('close', () => (closed = true));
      const emit = socket.emit.bind(socket);
      socket.emit = ((event: string | symbol, ...args: unknown[]) => (event === 'error' && closed ? false : emit(event, ...args))) as typeof socket.emit;
      callback(null, socket);
    });
  }

  /** `via` tells a tunnel's pool from a dialled one built from the same secrets. */
  static fingerprintOf(s: ClusterSecrets, via = 'direct'): string {
    return crypto.createHash('sha256').update(JSON.stringify([s.serverAddresses, s.caCertData, s.userToken, via])).digest('hex');
  }

  /** A fresh (non-pooled) connection, as upgrades need: TLS verified by the gateway, or plaintext through an agent that ended it. */
  connect(url: URL): UpstreamConnection<Duplex & Partial<Pick<tls.TLSSocket, 'setTimeout' | 'setKeepAlive'>>> {
    if (this.opts.plainDial) return { socket: this.opts.plainDial(url), ready: 'established' };
    return { socket: tls.connect(this.tlsOptions(url)), ready: 'secureConnect' };
  }

  /** TLS options for a fresh (non-pooled) connection. */
  tlsOptions(url: URL): tls.ConnectionOptions {
    return {
      ...(this.opts.dial ? { socket: this.opts.dial(url) } : undefined),
      host: url.hostname,
      port: Number(url.port || 443),
      ca: this.secrets.caCertData,
      servername: this.opts.serverName,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(this.opts.serverName, cert),
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
    };
  }

  /** Next address to use: round-robin over healthy ones; if none is known healthy, try them all in turn. */
  pick(exclude: ReadonlySet<string> = new Set()): URL | undefined {
    const candidates = this.addresses.filter((a) => !exclude.has(a.url.href));
    const healthy = candidates.filter((a) => a.healthy);
    const pool = healthy.length ? healthy : candidates;
    if (!pool.length) return undefined;
    this.cursor = (this.cursor + 1) % pool.length;
    return pool[this.cursor]!.url;
  }

  markDown(url: URL): void {
    const a = this.addresses.find((x) => x.url.href === url.href);
    if (a) a.healthy = false;
    this.ensureHealthChecks();
  }

  get viaTunnel(): boolean {
    return this.opts.dial !== undefined;
  }

  get addressCount(): number {
    return this.addresses.length;
  }

  /** Background checks run only while some address is down; healthy clusters cost nothing. */
  private ensureHealthChecks(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.checkAll(), this.opts.healthIntervalMs);
    this.timer.unref();
  }

  private async checkAll(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await Promise.all(this.addresses.filter((a) => !a.healthy).map(async (a) => (a.healthy = await this.probe(a.url))));
      if (this.addresses.every((a) => a.healthy) && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    } finally {
      this.checking = false;
    }
  }

  /** A TLS handshake that verifies the CA: "accepts connections and is the right server". */
  probe(url: URL): Promise<boolean> {
    return new Promise((resolve) => {
      const { socket, ready } = this.connect(url);
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), this.opts.connectTimeoutMs);
      socket.once(ready, () => done(true));
      socket.once('error', () => done(false));
    });
  }

  /**
   * Stops using this pool: idle sockets close now, busy ones (open watches, logs) finish their
   * response and are then closed instead of being kept alive.
   */
  retire(): void {
    if (this.timer) clearInterval(this.timer);
    this.h2?.retire();
    // Long-running requests' own clients are closed when their response ends.
    for (const { pool } of this.h1Origins.values()) void pool.close().catch(() => undefined);
  }

  destroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.h2?.destroy();
    for (const { pool } of this.h1Origins.values()) void pool.destroy().catch(() => undefined);
    for (const client of this.h1Streams) client.destroy(noop);
    this.h1Streams.clear();
  }
}
