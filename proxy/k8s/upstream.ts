import tls from 'node:tls';
import crypto from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ClusterSecrets } from '../../src/domain/credentials';
import { Pool } from 'undici';
import { H2Pool } from './h2-pool';

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
}

interface Address {
  url: URL;
  healthy: boolean;
}

/**
 * One cluster's apiservers: HTTP/2 sessions and, for apiservers without h2, a keep-alive HTTP/1.1
 * pool, both verifying the stored CA; and the list of addresses with their health. Requests spread
 * over healthy addresses; one that refuses a connection is marked down at once and checked again in
 * the background, never on a request's path.
 */
export class ClusterUpstream {
  /** Keep-alive HTTP/1.1 connections per address (undici: no cap on connections, so nothing queues). */
  private readonly h1Pools = new Map<string, Pool>();
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
    this.fingerprint = ClusterUpstream.fingerprintOf(secrets, opts.dial ? 'tunnel' : 'direct');
    this.addresses = secrets.serverAddresses.map((a) => ({ url: new URL(a), healthy: true }));
    this.h2ForAll = opts.http2 === 'all';
    this.h2 =
      opts.http2 === 'off'
        ? undefined
        : new H2Pool((url) => this.tlsOptions(url), { connectTimeoutMs: opts.connectTimeoutMs, http1RetryMs: 60_000, idleMs: 120_000, pingIntervalMs: 30_000, pingTimeoutMs: 15_000 });
  }

  /** The HTTP/2 pool a request should use, or undefined for the HTTP/1.1 pool. */
  h2For(longRunning: boolean): H2Pool | undefined {
    return longRunning || this.h2ForAll ? this.h2 : undefined;
  }

  /**
   * The HTTP/1.1 pool of one address. Every connection verifies the cluster CA under the configured
   * name, whatever address it dials. Idle connections are kept 30 s (less if the server says so).
   */
  h1For(url: URL): Pool {
    let pool = this.h1Pools.get(url.origin);
    if (!pool) {
      pool = new Pool(url.origin, {
        connections: null,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: 0,
        bodyTimeout: 0,
        connect: this.opts.dial
          ? (_opts, callback) => this.connectThroughDial(url, callback)
          : this.directConnectOptions(url),
      });
      this.h1Pools.set(url.origin, pool);
    }
    return pool;
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
  static fingerprintOf(s: ClusterSecrets, via: 'direct' | 'tunnel' = 'direct'): string {
    return crypto.createHash('sha256').update(JSON.stringify([s.serverAddresses, s.caCertData, s.userToken, via])).digest('hex');
  }

  /** TLS options for a fresh (non-pooled) connection, as upgrades need. */
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
      const socket = tls.connect(this.tlsOptions(url));
      const done = (ok: boolean): void => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(this.opts.connectTimeoutMs, () => done(false));
      socket.once('secureConnect', () => done(true));
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
    for (const pool of this.h1Pools.values()) void pool.close().catch(() => undefined);
  }

  destroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.h2?.destroy();
    for (const pool of this.h1Pools.values()) void pool.destroy().catch(() => undefined);
  }
}
