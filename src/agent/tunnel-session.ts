import { randomInt } from 'node:crypto';
import net from 'node:net';
import type { WebSocket } from 'ws';
import type { Logger } from '../log';
import {
  CONNECT_AGENT_TLS,
  CONNECT_TCP,
  decodeMessage,
  encodedLength,
  encodeHeaderBefore,
  encodeMessage,
  encodeMessageInto,
  EOF_REASON,
  errorPayload,
  MAX_HEADER_BYTES,
  MessageType,
  parseConnectPayload,
  TunnelWireError,
  type TunnelMessage,
} from '../tunnel/wire';
import { connectApiserverTls, tlsFailureReason } from './apiserver-tls';
import { FRAME_BYTES, FrameBuffers, READ_BYTES } from './frame-buffers';
import type { AgentMetrics } from './health';

/** Pause the virtual connections' sockets while the websocket has this much unsent… */
export const WS_HIGH_WATER = 1024 * 1024;
/** …and resume them once it is below this. */
export const WS_LOW_WATER = 256 * 1024;
const DEFAULT_DIAL_TIMEOUT_MS = 15_000;
/** Error codes of a TLS handshake that failed (certificate, name, protocol), as opposed to the TCP dial. */
const TLS_ERROR = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|ALTNAME|ALPN/i;
/** An apiserver connection the gateway ended cleanly is half-closed; this long after, it is closed. */
export const HALF_CLOSE_GRACE_MS = 15_000;

/** Message ids: a per-process counter with a random start, as the original's. */
let nextMessageId = randomInt(1, 2 ** 31);

interface VirtualConn {
  socket: net.Socket;
  /** The socket's write buffer is full: the websocket is paused until it drains. */
  blocked: boolean;
  /**
   * A TLS connection's plaintext gathered for one frame. TLS hands its reads over one 16 KiB record at a
   * time; sent one by one, each would be a frame that fills one outer TLS record and spills a few bytes
   * into a second. The records decrypted in one turn of the event loop go out as one frame (up to a full one).
   */
  pending?: { buf: Buffer; length: number };
}

/** A target the agent may dial: the apiserver address it reported, as `host:port`. */
export interface DialTarget {
  host: string;
  port: number;
}

/**
 * The client side of one tunnel session (§4.2 of the original): Connect dials the reported apiserver
 * and nothing else, Data is piped both ways, Error/EOF closes. Flow control is bounded both ways: a
 * socket that cannot take more pauses the websocket, and a websocket with too much unsent data pauses
 * the sockets that feed it.
 */
export class TunnelSession {
  private readonly conns = new Map<number, VirtualConn>();
  private blockedConns = 0;
  private readonly pausedSockets = new Set<net.Socket>();
  private readonly buffers = new FrameBuffers();
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    /** Allowed `tcp` targets keyed by the address string the server sends (`10.96.0.1:443`, `[fd00::1]:443`). */
    private readonly allowed: Map<string, DialTarget>,
    private readonly log: Logger,
    private readonly metrics: AgentMetrics,
    private readonly halfCloseGraceMs = HALF_CLOSE_GRACE_MS,
    /**
     * The in-cluster CA: given, the agent also takes `tls/<address>` Connects (it announced `agentTls`),
     * ending the apiserver's TLS itself for the reported address only.
     */
    private readonly inClusterCaPem?: string,
  ) {}

  get openConnections(): number {
    return this.conns.size;
  }

  /** One binary websocket message; a malformed one ends the session, as the wire format requires. */
  onFrame(frame: Buffer): void {
    let m: TunnelMessage;
    try {
      m = decodeMessage(frame);
    } catch (err) {
      if (!(err instanceof TunnelWireError)) throw err;
      this.log.warn({ err: err.message }, 'malformed tunnel message; closing the session');
      this.ws.terminate();
      return;
    }
    switch (m.type) {
      case MessageType.Connect:
        return this.onConnect(m);
      case MessageType.Data:
        return this.onData(m);
      case MessageType.Error:
        return this.onError(m);
      default:
        // AddClient/RemoveClient are for peer sessions between gateway replicas, not agents.
        return;
    }
  }

  private send(connId: number, type: MessageType, payload: Buffer): void {
    if (this.closed) return;
    const frame = encodeMessage({ id: nextMessageId++, connId, type, payload });
    this.ws.send(frame, { binary: true }, () => this.maybeResumeSockets());
  }

  /** Bytes read from an apiserver socket (in the shared scratch buffer) as one Data frame. */
  private sendData(connId: number, payload: Buffer): void {
    if (this.closed) return;
    const m = { id: nextMessageId++, connId, type: MessageType.Data, payload };
    const buf = this.buffers.take(encodedLength(m, payload.length));
    const length = encodeMessageInto(buf, m);
    this.ws.send(buf.subarray(0, length), { binary: true }, (err) => {
      // After an error the frame may still sit in a destroyed socket's queue: never reuse it then.
      if (!err) this.buffers.release(buf);
      this.maybeResumeSockets();
    });
  }

  private sendError(connId: number, reason: string): void {
    this.send(connId, MessageType.Error, errorPayload(reason));
  }

  private onConnect(m: TunnelMessage): void {
    if (this.conns.has(m.connId)) return this.sendError(m.connId, 'connection id already in use');
    let proto: string;
    let address: string;
    try {
      ({ proto, address } = parseConnectPayload(m.payload));
    } catch {
      return this.sendError(m.connId, 'bad Connect message');
    }
    const agentTls = proto === CONNECT_AGENT_TLS && this.inClusterCaPem !== undefined;
    const target = proto === CONNECT_TCP || agentTls ? this.allowed.get(address) : undefined;
    if (!target) {
      this.metrics.refused.inc();
      this.log.warn({ proto: proto.slice(0, 20), address: address.slice(0, 100) }, 'tunnel Connect refused: not the reported apiserver');
      return this.sendError(m.connId, `connect to ${address} not allowed`);
    }
    const conn: VirtualConn = { socket: undefined as unknown as net.Socket, blocked: false };
    const socket: net.Socket = agentTls
      ? connectApiserverTls(target, this.inClusterCaPem!, { buffer: this.buffers.scratch, callback: (n: number): boolean => this.gather(m.connId, conn, n) })
      : net.connect({
          host: target.host,
          port: target.port,
          onread: { buffer: this.buffers.scratch, callback: (n: number): boolean => this.onRead(m.connId, socket, n) },
        });
    conn.socket = socket;
    this.metrics.dials.inc({ connect: agentTls ? CONNECT_AGENT_TLS : CONNECT_TCP });
    socket.setNoDelay(true);
    this.conns.set(m.connId, conn);
    this.metrics.connections.inc();
    const dialTimer = setTimeout(() => socket.destroy(new Error(`dial tcp ${address}: i/o timeout`)), m.deadline > 0 ? m.deadline : DEFAULT_DIAL_TIMEOUT_MS);
    if (agentTls) {
      // An empty Data frame says the apiserver's certificate was verified: only then does the gateway
      // hand the connection to its HTTP client. Anything written before sits in the TLS socket, which
      // sends nothing in clear and drops it if the handshake fails.
      socket.once('secureConnect', () => {
        clearTimeout(dialTimer);
        this.send(m.connId, MessageType.Data, Buffer.alloc(0));
      });
    } else socket.once('connect', () => clearTimeout(dialTimer));
    socket.on('drain', () => this.unblock(conn));
    socket.on('end', () => this.finish(m.connId, conn, EOF_REASON));
    socket.on('error', (err: NodeJS.ErrnoException) => this.finish(m.connId, conn, agentTls && TLS_ERROR.test(err.code ?? '') ? tlsFailureReason(err) : err.message));
    socket.on('close', () => {
      clearTimeout(dialTimer);
      this.finish(m.connId, conn, EOF_REASON);
    });
  }

  /** `n` bytes from an apiserver socket, in the scratch buffer until this returns. */
  private onRead(connId: number, socket: net.Socket, n: number): boolean {
    this.sendData(connId, this.buffers.scratch.subarray(0, n));
    if (this.ws.bufferedAmount > WS_HIGH_WATER && !this.pausedSockets.has(socket)) {
      socket.pause();
      this.pausedSockets.add(socket);
    }
    return true;
  }

  /**
   * `n` plaintext bytes of a TLS connection, in the scratch buffer until this returns. Frames are filled
   * to exactly a full read (four outer TLS records), a record split across two frames if need be.
   */
  private gather(connId: number, conn: VirtualConn, n: number): boolean {
    let at = 0;
    while (at < n) {
      let pending = conn.pending;
      if (!pending) {
        pending = conn.pending = { buf: this.buffers.take(FRAME_BYTES), length: 0 };
        // Not nextTick: TLS hands each record over in a callback of its own, and ticks run between them.
        setImmediate(() => this.flush(connId, conn));
      }
      const take = Math.min(n - at, READ_BYTES - pending.length);
      this.buffers.scratch.copy(pending.buf, MAX_HEADER_BYTES + pending.length, at, at + take);
      pending.length += take;
      at += take;
      if (pending.length === READ_BYTES) this.flush(connId, conn);
    }
    return true;
  }

  /** Sends what a TLS connection gathered as one Data frame. */
  private flush(connId: number, conn: VirtualConn): void {
    const pending = conn.pending;
    if (!pending) return;
    conn.pending = undefined;
    if (this.closed) return;
    const start = encodeHeaderBefore(pending.buf, MAX_HEADER_BYTES, { id: nextMessageId++, connId, type: MessageType.Data });
    this.ws.send(pending.buf.subarray(start, MAX_HEADER_BYTES + pending.length), { binary: true }, (err) => {
      if (!err) this.buffers.release(pending.buf);
      this.maybeResumeSockets();
    });
    if (this.ws.bufferedAmount > WS_HIGH_WATER && !this.pausedSockets.has(conn.socket)) {
      conn.socket.pause();
      this.pausedSockets.add(conn.socket);
    }
  }

  private onData(m: TunnelMessage): void {
    const conn = this.conns.get(m.connId);
    if (!conn) return this.sendError(m.connId, 'connection not found');
    if (!conn.socket.write(m.payload) && !conn.blocked) {
      conn.blocked = true;
      this.blockedConns += 1;
      if (this.blockedConns === 1) this.ws.pause();
    }
  }

  private onError(m: TunnelMessage): void {
    const conn = this.conns.get(m.connId);
    if (!conn) return;
    this.forget(m.connId, conn);
    // EOF is a clean close: let what was written reach the apiserver first, but an apiserver that never
    // closes its side does not keep the socket.
    if (m.payload.toString('utf8') === EOF_REASON) {
      conn.socket.end();
      setTimeout(() => conn.socket.destroy(), this.halfCloseGraceMs).unref();
    } else conn.socket.destroy();
  }

  /** Reconciliation, every ping period: a connection whose socket is gone is closed on both ends. */
  reconcile(): void {
    for (const [connId, conn] of [...this.conns]) if (conn.socket.destroyed) this.finish(connId, conn, EOF_REASON);
  }

  /** The local side ended: tell the server once, then forget the connection. */
  private finish(connId: number, conn: VirtualConn, reason: string): void {
    if (this.conns.get(connId) !== conn) return;
    // What the apiserver sent before it closed goes first.
    this.flush(connId, conn);
    this.forget(connId, conn);
    this.sendError(connId, reason);
    conn.socket.destroy();
  }

  private forget(connId: number, conn: VirtualConn): void {
    this.conns.delete(connId);
    this.metrics.connections.dec();
    this.pausedSockets.delete(conn.socket);
    this.unblock(conn);
  }

  private unblock(conn: VirtualConn): void {
    if (!conn.blocked) return;
    conn.blocked = false;
    this.blockedConns -= 1;
    if (this.blockedConns === 0 && !this.closed) this.ws.resume();
  }

  private maybeResumeSockets(): void {
    if (!this.pausedSockets.size || this.ws.bufferedAmount > WS_LOW_WATER) return;
    for (const s of this.pausedSockets) s.resume();
    this.pausedSockets.clear();
  }

  /** The session ended: every virtual connection goes with it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [connId, conn] of this.conns) {
      this.forget(connId, conn);
      conn.socket.destroy();
    }
  }
}
