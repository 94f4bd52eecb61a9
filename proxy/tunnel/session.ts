import crypto from 'node:crypto';
import type { WebSocket, RawData } from 'ws';
import type { Logger } from '../../src/log';
import { CONNECT_AGENT_TLS, CONNECT_TCP, connectPayload, decodeMessage, encodeMessage, errorPayload, MessageType, type TunnelMessage } from '../../src/tunnel/wire';
import type { TunnelMetrics } from './metrics';
import { VirtualConn, type VirtualConnHost } from './virtual-conn';

export interface SessionLimits {
  /** The gateway pings the agent this often (the original's agent pinged every 5 s). */
  pingIntervalMs: number;
  /**
   * Nothing heard from the agent (message, ping or pong) for this long closes the session (original: 60 s);
   * so does an agent that reads nothing of what the gateway queued for this long (write deadline).
   */
  readTimeoutMs: number;
  /** Inbound bytes buffered per virtual connection before the websocket is paused. */
  connBufferBytes: number;
  /** A connection whose reader has not drained its buffer for this long is closed, so the others go on. */
  stallMs: number;
  /** Virtual connections open at once on one session. */
  maxConns: number;
}

export const DEFAULT_LIMITS: SessionLimits = { pingIntervalMs: 5_000, readTimeoutMs: 60_000, connBufferBytes: 256 * 1024, stallMs: 15_000, maxConns: 1024 };

/** What a session needs of its handshake: the only address the gateway asks the other end to dial. */
export interface DialTarget {
  /** `http(s)://host:port` as the agent or driver sent it. */
  address: string;
  /** `host:port` of `address`. */
  hostPort: string;
}

/** What the agent brought in its handshake, opened for use (never logged). */
export interface TunnelParams extends DialTarget {
  userToken: string;
  caCertPem: string;
  /** The agent announced it takes `tls/<address>` Connects (ends the apiserver's TLS itself); ours does, the original does not. */
  agentTls?: boolean;
}

/** A Mesos or k8s driver brings only the address its API listens on. */
export type DriverParams = DialTarget;

/** Message ids: a per-process counter from a random start, as the original. */
let nextMessageId = crypto.randomInt(1, 1 << 30);

/**
 * One agent's websocket and the virtual connections multiplexed on it. Only the gateway dials (Connect
 * to the cluster's own apiserver address); the agent's Data and Error frames are routed by connection id.
 *
 * Flow control (the wire format has no per-connection window): each connection buffers at most
 * `connBufferBytes` of inbound data; when one goes over, the websocket is paused, so TCP pushes back on
 * the agent, until that reader drains. A reader that does not drain within `stallMs` loses its
 * connection (its stream ends with an error) and the websocket resumes: one stalled `logs -f` can hold
 * the others back for at most `stallMs` and never grows memory past its buffer plus one frame.
 */
export class TunnelSession<P extends DialTarget = TunnelParams> implements VirtualConnHost {
  readonly connectedAt = new Date();
  private readonly conns = new Map<number, VirtualConn>();
  private readonly stalled = new Map<VirtualConn, NodeJS.Timeout>();
  private nextConnId = 1;
  private lastHeard = Date.now();
  private lastWriteProgress = Date.now();
  private lastQueued = 0;
  private readonly keepalive: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly clusterId: string,
    readonly params: P,
    /** Where the agent connected from, for operators. */
    readonly agentAddress: string,
    private readonly ws: WebSocket,
    private readonly limits: SessionLimits,
    private readonly metrics: TunnelMetrics,
    private readonly logger: Logger,
    private readonly onClose: (session: TunnelSession<P>, reason: string) => void,
  ) {
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('ping', () => (this.lastHeard = Date.now()));
    ws.on('pong', () => (this.lastHeard = Date.now()));
    // Oversized frames (maxPayload) and protocol errors: ws closes the socket itself (1009, 1002).
    ws.on('error', (err) => this.finish(`websocket error: ${err.message}`));
    ws.on('close', (code, reason) => this.finish(`closed by the agent (${code}${reason.length ? ` ${reason.toString('utf8').slice(0, 100)}` : ''})`));
    this.keepalive = setInterval(() => this.tick(), limits.pingIntervalMs);
    this.keepalive.unref();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /**
   * Opens a virtual connection to the cluster's apiserver through the agent: bytes as they are (`tcp`),
   * or with `agentTls` the apiserver's plaintext, the agent holding TLS to it (only if it announced so).
   */
  dial(hostPort: string, timeoutMs: number, agentTls = false): VirtualConn {
    if (this.closed) throw Object.assign(new Error('tunnel: the agent tunnel is closed'), { code: 'ECONNRESET' });
    // Only the address the agent registered: the tunnel is not a general way into the cluster's network.
    if (hostPort !== this.params.hostPort) throw Object.assign(new Error('tunnel: only the cluster apiserver may be dialled'), { code: 'ECONNREFUSED' });
    if (agentTls && !(this.params as Partial<TunnelParams>).agentTls) throw Object.assign(new Error('tunnel: this agent does not end TLS itself'), { code: 'ECONNREFUSED' });
    if (this.conns.size >= this.limits.maxConns) throw Object.assign(new Error('tunnel: too many connections through this agent tunnel'), { code: 'ECONNREFUSED' });
    this.nextConnId += 1;
    const conn = new VirtualConn(this.nextConnId, hostPort, this, this.limits.connBufferBytes);
    this.conns.set(conn.connId, conn);
    this.metrics.conns += 1;
    this.send({ connId: conn.connId, type: MessageType.Connect, deadline: timeoutMs, payload: connectPayload(agentTls ? CONNECT_AGENT_TLS : CONNECT_TCP, hostPort) });
    return conn;
  }

  private send(m: Omit<TunnelMessage, 'id' | 'deadline'> & { deadline?: number }, done?: (err?: Error | null) => void): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) {
      done?.(Object.assign(new Error('tunnel: the agent tunnel is closed'), { code: 'ECONNRESET' }));
      return;
    }
    nextMessageId += 1;
    this.ws.send(encodeMessage({ ...m, id: nextMessageId }), { binary: true }, done ?? (() => undefined));
  }

  sendData(conn: VirtualConn, payload: Buffer, done: (err?: Error | null) => void): void {
    this.metrics.bytesOut += payload.length;
    this.send({ connId: conn.connId, type: MessageType.Data, payload }, done);
  }

  sendClose(conn: VirtualConn, reason: string): void {
    this.send({ connId: conn.connId, type: MessageType.Error, payload: errorPayload(reason) });
  }

  forget(conn: VirtualConn): void {
    if (this.conns.get(conn.connId) === conn) {
      this.conns.delete(conn.connId);
      this.metrics.conns -= 1;
    }
  }

  pressure(conn: VirtualConn, over: boolean): void {
    if (over) {
      if (this.stalled.has(conn)) return;
      if (this.stalled.size === 0) this.ws.pause();
      const timer = setTimeout(() => {
        this.metrics.stalled();
        this.logger.warn({ clusterId: this.clusterId, connId: conn.connId }, 'closing a tunnel connection whose reader stopped reading');
        conn.destroy(Object.assign(new Error(`reader stalled for ${Math.round(this.limits.stallMs / 1000)}s`), { code: 'ETIMEDOUT' }));
      }, this.limits.stallMs);
      timer.unref();
      this.stalled.set(conn, timer);
      return;
    }
    const timer = this.stalled.get(conn);
    if (!timer) return;
    clearTimeout(timer);
    this.stalled.delete(conn);
    if (this.stalled.size === 0 && !this.closed) {
      // Time spent paused is not silence from the agent.
      this.lastHeard = Date.now();
      this.ws.resume();
    }
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    this.lastHeard = Date.now();
    if (!isBinary) return this.close(1003, 'tunnel messages must be binary frames');
    let m: TunnelMessage;
    try {
      m = decodeMessage(data as Buffer);
    } catch (err) {
      return this.close(1002, `malformed tunnel message: ${(err as Error).message}`);
    }
    switch (m.type) {
      case MessageType.Data: {
        const conn = this.conns.get(m.connId);
        if (!conn) return this.send({ connId: m.connId, type: MessageType.Error, payload: errorPayload('unknown connection') });
        this.metrics.bytesIn += m.payload.length;
        conn.receive(m.payload);
        return;
      }
      case MessageType.Error:
        // An Error for a connection already gone is not answered: two closes would otherwise echo for ever.
        this.conns.get(m.connId)?.closeFromPeer(m.payload.toString('utf8'));
        return;
      case MessageType.Connect:
        this.send({ connId: m.connId, type: MessageType.Error, payload: errorPayload('the gateway accepts no connections through an agent tunnel') });
        return;
      default:
        // AddClient/RemoveClient belong to peer sessions between gateway replicas, which this is not.
        return;
    }
  }

  /**
   * Reconciliation, every ping period: a connection counts only while it can still carry bytes. One the
   * agent ended whose reader never read to the end (an abandoned stream) is closed after `stallMs`, and
   * one destroyed without being forgotten is forgotten, so neither the map nor the gauge keeps it.
   */
  reconcile(now = Date.now()): void {
    for (const conn of [...this.conns.values()]) {
      if (conn.destroyed) this.forget(conn);
      else if (conn.peerEndedAt !== undefined && now - conn.peerEndedAt > this.limits.stallMs) conn.destroy();
    }
  }

  private tick(): void {
    if (this.closed) return;
    this.reconcile();
    // Write deadline: frames queued for an agent that has stopped reading would hold every writer.
    const queued = this.ws.bufferedAmount;
    if (queued === 0 || queued < this.lastQueued) this.lastWriteProgress = Date.now();
    this.lastQueued = queued;
    if (Date.now() - this.lastWriteProgress > this.limits.readTimeoutMs) {
      this.close(1001, `the agent has not read for ${Math.round(this.limits.readTimeoutMs / 1000)}s`);
      this.ws.terminate();
      return;
    }
    // While frames wait for the agent, a ping would queue behind them and its pong come late: the write
    // deadline above judges an agent that has stopped reading, so silence is not held against it here.
    if (this.stalled.size || queued > 0) {
      this.lastHeard = Date.now();
      return;
    }
    if (Date.now() - this.lastHeard > this.limits.readTimeoutMs) {
      this.close(1001, `nothing heard from the agent for ${Math.round(this.limits.readTimeoutMs / 1000)}s`);
      this.ws.terminate();
      return;
    }
    this.ws.ping();
  }

  /** Closes the websocket with a reason the agent can log (at most 123 bytes in a close frame). */
  close(code: number, reason: string): void {
    if (this.closed) return;
    const ws = this.ws;
    this.finish(reason);
    if (ws.readyState === ws.OPEN) ws.close(code, Buffer.from(reason).subarray(0, 123).toString('utf8'));
    // An agent that never answers the close frame does not keep the socket.
    setTimeout(() => ws.terminate(), 5_000).unref();
  }

  /** Ends every virtual connection and tells the registry, once. */
  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    for (const timer of this.stalled.values()) clearTimeout(timer);
    this.stalled.clear();
    for (const conn of [...this.conns.values()]) conn.destroy(Object.assign(new Error('tunnel: the agent tunnel closed'), { code: 'ECONNRESET' }));
    this.onClose(this, reason);
  }
}
