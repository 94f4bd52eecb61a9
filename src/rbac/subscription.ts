/**
 * The websocket subscription to the external permission service (§8.6), transport only: it receives
 * grant/revoke events, hands each to the caller's `apply` callback one at a time in arrival order, and
 * acks the ones that were applied. It never touches the database or Kubernetes.
 *
 * Differences from the original (§14 item 14):
 * - a bare `host:port` is dialled over **wss://** (the original's plain ws:// sent Basic credentials in
 *   cleartext); TLS verification is never skipped, an extra CA can be given;
 * - reconnects with exponential backoff and jitter instead of "3 tries 3 s apart, forever";
 * - a silent connection is probed with a websocket ping and dropped if no pong comes back, so a
 *   half-open TCP connection cannot leave us subscribed to nothing;
 * - data frames are validated before `apply`; invalid ones are logged and not acked.
 */
import WebSocket from 'ws';
import type { Logger } from '../log';
import { ackFrame, decodeAuthRbacData, parseFrame, type AuthRbacData } from './subscription-frames';

export { subscriptionUrl, SUBSCRIPTION_PATH, type AuthRbacData } from './subscription-frames';

export interface RbacSubscriptionOptions {
  /** ws:// or wss:// full URL, normally from `subscriptionUrl(bkiam_auth_sub_server)`. */
  url: string;
  appCode: string;
  appSecret: string;
  /** Extra CA PEM for wss:// (default: the system roots). Verification is never skipped. */
  ca?: string | Buffer;
  /** Applies one event; a throw (or rejection) means "not applied", so the frame is not acked. */
  apply: (event: AuthRbacData, meta: { dataId: string; workerId: string }) => Promise<void>;
  logger: Logger;
  /**
   * Reconnect backoff: initialMs doubling up to maxMs (defaults 1000 / 30000), each delay drawn from
   * [d/2, d]. It starts over after a connection that stayed up for resetAfterMs (default 10000).
   */
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
  /** Opening handshake timeout (TCP + TLS + HTTP upgrade); default 10000. */
  handshakeTimeoutMs?: number;
  /** Silence (no frame, no pong, no ping) after which the server is pinged; default 90000. */
  idleTimeoutMs?: number;
  /** How long to wait for the pong before dropping the connection; default 10000. */
  pongTimeoutMs?: number;
}

export type RbacSubscriptionState = 'connecting' | 'connected' | 'backoff' | 'stopped';

export interface RbacSubscriptionStatus {
  state: RbacSubscriptionState;
  /** The URL dialled, without any credentials. */
  url: string;
  connectedSince?: Date;
  lastError?: string;
  lastAckAt?: Date;
  /** Data frames applied and acked. */
  acked: number;
  /** Data frames not acked: invalid, or `apply` failed. */
  failed: number;
  /** Connection attempts after the first one. */
  reconnects: number;
}

/** Largest inbound message accepted; an event is a few hundred bytes. */
const MAX_PAYLOAD = 4 * 1024 * 1024;
/** How long stop() waits for the closing handshake before dropping the socket. */
const CLOSE_GRACE_MS = 2000;
/** How long stop() keeps the socket open for the apply in progress, so that it can still be acked. */
const APPLY_GRACE_MS = 5000;

interface QueuedData {
  socket: WebSocket;
  dataId: string | number;
  workerId: string;
  data: unknown;
}

export class RbacSubscription {
  private readonly opts: RbacSubscriptionOptions;
  private readonly log: Logger;
  private readonly safeUrl: string;
  private readonly authorization: string;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly resetAfterMs: number;
  private readonly idleTimeoutMs: number;
  private readonly pongTimeoutMs: number;

  private started = false;
  private stopped = false;
  private stopping?: Promise<void>;
  private ws?: WebSocket;
  private state: RbacSubscriptionState = 'stopped';
  private attempt = 0; // consecutive failed connections, drives the backoff
  private connectedAt?: Date;
  private lastError?: string;
  private lastAckAt?: Date;
  private acked = 0;
  private failed = 0;
  private reconnects = 0;
  /** worker_id from the latest `hi` on each connection. */
  private readonly workerIds = new WeakMap<WebSocket, string>();
  private errorSeq = 0; // bumped whenever lastError is set

  private reconnectTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private pongTimer?: NodeJS.Timeout;

  private readonly queue: QueuedData[] = [];
  private draining?: Promise<void>;

  constructor(opts: RbacSubscriptionOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new Error('RbacSubscription: url is not a valid URL');
    }
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`RbacSubscription: url must be ws:// or wss:// (got ${u.protocol}//)`);
    u.username = '';
    u.password = '';
    this.safeUrl = u.toString();
    if (!opts.appCode) throw new Error('RbacSubscription: appCode is required');
    this.opts = opts;
    this.authorization = `Basic ${Buffer.from(`${opts.appCode}:${opts.appSecret}`, 'utf8').toString('base64')}`;
    this.initialMs = positive(opts.backoff?.initialMs, 1000);
    this.maxMs = Math.max(this.initialMs, positive(opts.backoff?.maxMs, 30_000));
    this.resetAfterMs = positive(opts.backoff?.resetAfterMs, 10_000);
    this.idleTimeoutMs = positive(opts.idleTimeoutMs, 90_000);
    this.pongTimeoutMs = positive(opts.pongTimeoutMs, 10_000);
    this.log = opts.logger.child({ component: 'rbac-subscription', url: this.safeUrl });
  }

  /** Starts connecting (once). Returns at once; progress shows in status() and the log. */
  start(): void {
    if (this.stopped) throw new Error('RbacSubscription: already stopped; create a new one');
    if (this.started) return;
    this.started = true;
    this.connect();
  }

  status(): RbacSubscriptionStatus {
    const s: RbacSubscriptionStatus = { state: this.state, url: this.safeUrl, acked: this.acked, failed: this.failed, reconnects: this.reconnects };
    if (this.state === 'connected' && this.connectedAt) s.connectedSince = this.connectedAt;
    if (this.lastError !== undefined) s.lastError = this.lastError;
    if (this.lastAckAt) s.lastAckAt = this.lastAckAt;
    return s;
  }

  /**
   * Stops reconnecting and closes the socket. An `apply` in progress may finish (and be acked) first,
   * for up to 5 s; resolves once the socket is closed and that apply has settled. Queued events not
   * yet started are dropped (never acked, so the service redelivers them).
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopped = true;
    this.state = 'stopped';
    this.clearTimers();
    const dropped = this.queue.length;
    this.queue.length = 0;
    if (dropped) this.log.info({ dropped }, 'RBAC subscription stopping: queued events dropped without ack');
    const inFlight = this.draining ?? Promise.resolve();
    // Keep the socket open a little for an apply in progress, so that it can still be acked.
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, APPLY_GRACE_MS)));
    const closed = Promise.race([inFlight, grace])
      .then(() => clearTimeout(graceTimer))
      .then(
        () =>
          new Promise<void>((resolve) => {
            const ws = this.ws;
            if (!ws || ws.readyState === WebSocket.CLOSED) return resolve();
            const kill = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
            ws.once('close', () => {
              clearTimeout(kill);
              resolve();
            });
            ws.close(1000, 'stopping');
          }),
      );
    // Resolve only once the socket is closed and no apply is running any more.
    this.stopping = Promise.all([closed, inFlight]).then(() => {
      this.clearTimers();
      this.log.info('RBAC subscription stopped');
    });
    return this.stopping;
  }

  // ---- connection ------------------------------------------------------------------------------

  private connect(): void {
    if (this.stopped) return;
    this.state = 'connecting';
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.opts.url, {
        headers: { Authorization: this.authorization },
        ca: this.opts.ca,
        rejectUnauthorized: true,
        handshakeTimeout: positive(this.opts.handshakeTimeoutMs, 10_000),
        followRedirects: false,
        perMessageDeflate: false,
        maxPayload: MAX_PAYLOAD,
      });
    } catch (err) {
      this.setError(errorMessage(err));
      this.log.warn({ err: this.lastError }, 'RBAC subscription: cannot create the connection');
      this.scheduleReconnect(false);
      return;
    }
    this.ws = ws;
    let opened = false;
    let openedAt = 0;
    let errorsAtOpen = 0;

    ws.on('open', () => {
      opened = true;
      openedAt = Date.now();
      errorsAtOpen = this.errorSeq;
      this.connectedAt = new Date(openedAt);
      this.state = 'connected';
      this.log.info('RBAC subscription connected');
      this.touch(ws);
    });
    ws.on('message', (data, isBinary) => {
      this.touch(ws);
      if (isBinary) {
        this.log.warn('RBAC subscription: binary frame ignored');
        return;
      }
      this.onText(ws, rawToString(data));
    });
    ws.on('pong', () => this.touch(ws));
    ws.on('ping', () => this.touch(ws));
    ws.on('error', (err) => {
      this.setError(errorMessage(err));
      // Only the message: ws errors carry no headers, and the URL has no credentials.
      if (this.stopped) this.log.debug({ err: this.lastError }, 'RBAC subscription: error while stopping');
      else this.log.warn({ err: this.lastError }, opened ? 'RBAC subscription connection error' : 'RBAC subscription: connection failed');
    });
    ws.on('close', (code, reason) => {
      if (this.ws === ws) this.ws = undefined;
      this.clearLiveness();
      if (this.stopped) return;
      const stable = opened && Date.now() - openedAt >= this.resetAfterMs;
      if (opened) {
        const why = reason.length ? `${code} ${reason.toString('utf8')}` : String(code);
        if (this.errorSeq === errorsAtOpen) this.setError(`connection closed (${why})`);
        this.log.warn({ code, reason: reason.toString('utf8') }, 'RBAC subscription connection closed');
      }
      this.connectedAt = undefined;
      this.scheduleReconnect(stable);
    });
  }

  private scheduleReconnect(stable: boolean): void {
    if (this.stopped) return;
    if (stable) this.attempt = 0;
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempt += 1;
    this.state = 'backoff';
    this.log.info({ delayMs: delay }, 'RBAC subscription: reconnecting after a delay');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.reconnects += 1;
      this.connect();
    }, delay);
  }

  private setError(message: string): void {
    this.lastError = message;
    this.errorSeq += 1;
  }

  // ---- liveness ------------------------------------------------------------------------------

  /** Something arrived: the connection is alive. Re-arms the idle timer. */
  private touch(ws: WebSocket): void {
    if (ws !== this.ws || this.stopped) return;
    this.clearLiveness();
    this.idleTimer = setTimeout(() => this.probe(ws), this.idleTimeoutMs);
  }

  private probe(ws: WebSocket): void {
    this.idleTimer = undefined;
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
    this.log.debug({ idleMs: this.idleTimeoutMs }, 'RBAC subscription idle: pinging the server');
    this.pongTimer = setTimeout(() => {
      this.pongTimer = undefined;
      this.setError(`no pong within ${this.pongTimeoutMs} ms after ${this.idleTimeoutMs} ms of silence`);
      this.log.warn({ err: this.lastError }, 'RBAC subscription unresponsive: dropping the connection');
      ws.terminate();
    }, this.pongTimeoutMs);
    try {
      ws.ping();
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'RBAC subscription: ping failed');
    }
  }

  private clearLiveness(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.idleTimer = undefined;
    this.pongTimer = undefined;
  }

  private clearTimers(): void {
    this.clearLiveness();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  // ---- frames ----------------------------------------------------------------------------------

  private onText(ws: WebSocket, text: string): void {
    const parsed = parseFrame(text, this.opts.appCode);
    if (!parsed.ok) {
      if (parsed.reason === 'foreign') this.log.debug({ appCode: parsed.appCode, type: parsed.type }, 'RBAC subscription: frame for another app_code ignored');
      else this.log.warn({ err: parsed.message }, 'RBAC subscription: malformed frame ignored');
      return;
    }
    const f = parsed.frame;
    switch (f.kind) {
      case 'hi':
        this.workerIds.set(ws, f.workerId);
        this.log.info({ workerId: f.workerId }, 'RBAC subscription: hi from the server');
        return;
      case 'ping':
        this.log.debug('RBAC subscription: ping frame');
        return;
      case 'other':
        this.log.debug({ type: f.type }, 'RBAC subscription: frame of unknown type ignored');
        return;
      case 'data':
        if (this.stopped) return;
        this.queue.push({ socket: ws, dataId: f.dataId, workerId: this.workerIds.get(ws) || f.workerId || '', data: f.data });
        this.drain();
        return;
    }
  }

  /** Applies queued data frames strictly one at a time, in arrival order. */
  private drain(): void {
    if (this.draining) return;
    this.draining = (async () => {
      try {
        for (let item = this.queue.shift(); item; item = this.queue.shift()) {
          try {
            await this.handleData(item);
          } catch (err) {
            this.log.error({ err: errorMessage(err) }, 'RBAC subscription: unexpected error handling a data frame');
          }
        }
      } finally {
        this.draining = undefined;
      }
    })();
  }

  private async handleData(item: QueuedData): Promise<void> {
    const dataId = String(item.dataId);
    const decoded = decodeAuthRbacData(item.data);
    if (!decoded.ok) {
      this.failed += 1;
      this.log.warn({ dataId, err: decoded.error }, 'RBAC subscription: invalid data frame, not applied and not acked');
      return;
    }
    const event = decoded.value;
    const summary = {
      dataId,
      operation: event.operation,
      principal: `${event.principal.principal_type}.${event.principal.principal_id}`,
      action: event.action,
      resourceType: event.resource_type,
      cluster: event.resource_instance.cluster,
      namespace: event.resource_instance.namespace,
    };
    try {
      await this.opts.apply(event, { dataId, workerId: item.workerId });
    } catch (err) {
      this.failed += 1;
      this.log.warn({ ...summary, err: errorMessage(err) }, 'RBAC subscription: apply failed, not acked');
      return;
    }
    if (item.socket.readyState !== WebSocket.OPEN) {
      // The server will redeliver an unacked event; applying twice is harmless (apply is idempotent).
      this.log.info(summary, 'RBAC subscription: applied, but the connection closed before the ack');
      return;
    }
    item.socket.send(ackFrame(this.opts.appCode, item.workerId, item.dataId), (err) => {
      if (err) {
        this.log.warn({ dataId, err: errorMessage(err) }, 'RBAC subscription: ack not sent');
        return;
      }
      this.acked += 1;
      this.lastAckAt = new Date();
      this.log.info(summary, 'RBAC subscription: applied and acked');
    });
  }
}

const positive = (v: number | undefined, dflt: number): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : dflt);

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function rawToString(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
