import { Duplex } from 'node:stream';
import { EOF_REASON } from '../../src/tunnel/wire';

/** Largest Data payload the gateway sends: small frames keep one busy stream from delaying the others' frames. */
export const MAX_DATA_CHUNK = 32 * 1024;

/** What a virtual connection needs from its session. */
export interface VirtualConnHost {
  /** Sends one Data frame; `done` runs once the websocket has handed it to the kernel. */
  sendData(conn: VirtualConn, payload: Buffer, done: (err?: Error | null) => void): void;
  /** Tells the agent the connection is gone (`EOF` for a clean close). */
  sendClose(conn: VirtualConn, reason: string): void;
  /** The inbound buffer went over (`true`) or back under (`false`) its bound. */
  pressure(conn: VirtualConn, over: boolean): void;
  forget(conn: VirtualConn): void;
}

/** Maps an agent's error text to the errno code the upstream pools understand. */
function codeFor(reason: string): string {
  // The agent's TLS to the apiserver failed (`tls: <code>: …`): its code tells the pools it was TLS.
  const tls = /^tls: ([A-Z0-9_]+):/.exec(reason);
  if (tls) return /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(tls[1]!) ? tls[1]! : 'ERR_TLS_AT_AGENT';
  if (/refused/i.test(reason)) return 'ECONNREFUSED';
  if (/timeout|deadline/i.test(reason)) return 'ETIMEDOUT';
  return 'ECONNRESET';
}

/**
 * One TCP connection the agent opened on the gateway's behalf, multiplexed on the tunnel's websocket. A
 * Node Duplex, so TLS to the apiserver runs over it (`tls.connect({ socket })`), or, for an agent that
 * ends that TLS itself, plain HTTP. Inbound bytes are
 * buffered up to `readableHighWaterMark`; past it the session is told (it pauses the websocket until
 * this connection's reader drains). Writes complete only when the websocket has flushed the frame, so
 * one writer has at most one chunk in flight.
 */
export class VirtualConn extends Duplex {
  /** Bytes each way, for the audit of bytes through tunnels. */
  bytesIn = 0;
  bytesOut = 0;
  private over = false;
  private closedByPeer = false;
  private heard = false;
  /** When the agent ended the connection cleanly (EOF) while its reader had not finished. */
  peerEndedAt?: number;

  constructor(
    readonly connId: number,
    readonly address: string,
    private readonly host: VirtualConnHost,
    bufferBytes: number,
  ) {
    super({ readableHighWaterMark: bufferBytes, writableHighWaterMark: MAX_DATA_CHUNK, allowHalfOpen: false });
    // Its user (TLS, undici) sees errors through its own listeners; one closed before it was used must not crash the process.
    this.on('error', () => undefined);
  }

  get overLimit(): boolean {
    return this.over;
  }

  /**
   * Data from the agent. The first frame emits 'established': for a `tls` Connect the agent sends an
   * empty one once the apiserver's certificate is verified, and carries nothing else.
   */
  receive(payload: Buffer): void {
    if (this.destroyed || this.readableEnded) return;
    if (!this.heard) {
      this.heard = true;
      this.emit('established');
      if (!payload.length) return;
    }
    this.bytesIn += payload.length;
    if (!this.push(payload) && !this.over) {
      this.over = true;
      this.host.pressure(this, true);
    }
  }

  /** The agent closed the connection: `EOF` ends it cleanly, anything else is an error (dial refused, reset). */
  closeFromPeer(reason: string): void {
    if (this.destroyed) return;
    this.closedByPeer = true;
    if (reason === EOF_REASON) {
      // Buffered data is still read; the writable side ends with the readable one (allowHalfOpen false).
      this.peerEndedAt = Date.now();
      this.push(null);
      return;
    }
    this.destroy(Object.assign(new Error(`tunnel: ${reason.slice(0, 100)}`), { code: codeFor(reason) }));
  }

  override _read(): void {
    if (this.over) {
      this.over = false;
      this.host.pressure(this, false);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    // The agent has closed this connection: nothing more may be sent for its id.
    if (this.closedByPeer) return callback();
    this.bytesOut += chunk.length;
    if (chunk.length <= MAX_DATA_CHUNK) return this.host.sendData(this, chunk, callback);
    let at = 0;
    const next = (err?: Error | null): void => {
      if (err || at >= chunk.length) return callback(err);
      const piece = chunk.subarray(at, at + MAX_DATA_CHUNK);
      at += piece.length;
      this.host.sendData(this, piece, next);
    };
    next();
  }

  override _final(callback: (err?: Error | null) => void): void {
    // The protocol has no half-close: ending our side closes the connection.
    callback();
    this.destroy();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.closedByPeer) this.host.sendClose(this, err ? err.message.slice(0, 100) || 'closed' : EOF_REASON);
    if (this.over) {
      this.over = false;
      this.host.pressure(this, false);
    }
    this.host.forget(this);
    callback(err);
  }
}
