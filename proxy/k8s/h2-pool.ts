import http2 from 'node:http2';
import tls from 'node:tls';

/** Per-stream receive window (a slow client's stream holds at most this much) and the session's, shared by all its streams. */
export const H2_STREAM_WINDOW = 1 << 20;
export const H2_SESSION_WINDOW = 32 << 20;

/** One HTTP/2 connection to an apiserver address and how many of its streams are open. */
export interface H2Conn {
  readonly session: http2.ClientHttp2Session;
  active: number;
  /** Set once a request has been sent on it: a failure then may be a stale connection, not a down address. */
  used: boolean;
}

export interface H2PoolOptions {
  connectTimeoutMs: number;
  /** How long an address that answered ALPN with http/1.1 is not asked for h2 again. */
  http1RetryMs: number;
  /** A session with no open stream for this long is closed. */
  idleMs: number;
  /** Ping period for sessions with open streams (client-go: ReadIdleTimeout 30 s, PingTimeout 15 s). */
  pingIntervalMs: number;
  pingTimeoutMs: number;
}

interface AddressState {
  conns: H2Conn[];
  connecting?: Promise<H2Conn | undefined>;
  /** Until when this address is known to speak only HTTP/1.1. */
  http1Until: number;
}

/**
 * HTTP/2 sessions to each apiserver address of one cluster. Every plain request to an address is a
 * stream on the same session, so a thousand idle watches cost a thousand streams, not a thousand TLS
 * connections with their buffers. A second session is opened only when the apiserver's
 * SETTINGS_MAX_CONCURRENT_STREAMS is reached (kube-apiserver allows 250 by default); otherwise requests
 * over the limit would queue behind watches that never end. An address that does not negotiate h2 is
 * left to the HTTP/1.1 pool.
 */
export class H2Pool {
  private readonly addresses = new Map<string, AddressState>();
  private closed = false;

  constructor(
    private readonly tlsOptions: (url: URL) => tls.ConnectionOptions,
    private readonly opts: H2PoolOptions,
  ) {}

  /**
   * Reserves a stream on a session to `url`: at once when an open session has room, through a
   * promise while one is being set up, undefined when the address speaks only HTTP/1.1 (or the pool
   * is retired). The promise rejects with the connection error (ECONNREFUSED, TLS failure, ETIMEDOUT).
   * Every reservation is given back with `release`.
   */
  acquire(url: URL, rounds = 0): H2Conn | Promise<H2Conn | undefined> | undefined {
    if (this.closed) return undefined;
    const key = url.href;
    let state = this.addresses.get(key);
    if (!state) {
      state = { conns: [], http1Until: 0 };
      this.addresses.set(key, state);
    }
    if (state.http1Until > Date.now()) return undefined;
    for (const c of state.conns) {
      if (c.active < c.session.remoteSettings.maxConcurrentStreams! && !c.session.closed) {
        c.active += 1;
        return c;
      }
    }
    // Concurrent first requests share one handshake instead of opening a session each.
    const s = state;
    s.connecting ??= this.connect(url, s).finally(() => (s.connecting = undefined));
    return s.connecting.then((conn) => {
      if (!conn?.session.closed) return this.acquire(url, rounds);
      // Bounded: a server that closes every new session at once must not be dialled for ever.
      if (rounds >= 3) throw Object.assign(new Error('the apiserver keeps closing new HTTP/2 connections'), { code: 'ECONNRESET' });
      return this.acquire(url, rounds + 1);
    });
  }

  release(conn: H2Conn): void {
    conn.active -= 1;
  }

  /** Stops handing out the session (it went away or failed); streams still open on it finish. */
  forget(conn: H2Conn): void {
    for (const state of this.addresses.values()) {
      const i = state.conns.indexOf(conn);
      if (i >= 0) state.conns.splice(i, 1);
    }
  }

  private connect(url: URL, state: AddressState): Promise<H2Conn | undefined> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ ...this.tlsOptions(url), ALPNProtocols: ['h2', 'http/1.1'] });
      const fail = (err: Error): void => {
        socket.destroy();
        reject(err);
      };
      socket.setTimeout(this.opts.connectTimeoutMs, () => fail(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })));
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== 'h2') {
          state.http1Until = Date.now() + this.opts.http1RetryMs;
          socket.destroy();
          resolve(undefined);
          return;
        }
        socket.setKeepAlive(true, 30_000);
        // Flow-control windows sized for streaming: with HTTP/2's default 64 KiB the apiserver stops after
        // every 64 KiB of a log until our WINDOW_UPDATE reaches it. A stream's window is also the most a
        // slow client's stream can make us hold (its window opens only as its body is relayed).
        const session = http2.connect(url.origin, { createConnection: () => socket, settings: { enablePush: false, initialWindowSize: H2_STREAM_WINDOW }, maxSessionMemory: 64 });
        session.setLocalWindowSize(H2_SESSION_WINDOW);
        const conn: H2Conn = { session, active: 0, used: false };
        // Requests wait for the apiserver's SETTINGS so the stream limit is known before it is used.
        session.once('remoteSettings', () => {
          socket.off('error', fail);
          socket.setTimeout(0);
          if (this.closed) {
            session.close();
            resolve(undefined);
            return;
          }
          state.conns.push(conn);
          this.watch(conn);
          resolve(conn);
        });
        session.once('error', fail);
      });
    });
  }

  private watch(conn: H2Conn): void {
    const { session } = conn;
    const gone = (): void => {
      clearInterval(pinger);
      this.forget(conn);
    };
    session.removeAllListeners('error');
    session.on('error', gone);
    session.once('goaway', gone);
    session.once('close', gone);
    // A session that dies silently (peer gone, no FIN) would hold watches open for ever.
    const pinger = setInterval(() => {
      if (conn.active === 0) return;
      const timer = setTimeout(() => session.destroy(Object.assign(new Error('ping timeout'), { code: 'ETIMEDOUT' })), this.opts.pingTimeoutMs);
      timer.unref();
      const sent = session.ping((err) => {
        clearTimeout(timer);
        if (err && !session.destroyed) session.destroy(err);
      });
      if (!sent) clearTimeout(timer);
    }, this.opts.pingIntervalMs);
    pinger.unref();
    session.setTimeout(this.opts.idleMs, () => {
      if (conn.active === 0) session.close();
    });
    session.unref();
  }

  /** No new streams; open ones (watches, logs) finish on their sessions, which then close. */
  retire(): void {
    this.closed = true;
    for (const state of this.addresses.values()) for (const c of state.conns) c.session.close();
  }

  destroy(): void {
    this.closed = true;
    for (const state of this.addresses.values()) for (const c of state.conns) c.session.destroy();
    this.addresses.clear();
  }
}
