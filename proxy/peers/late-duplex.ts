import { Duplex } from 'node:stream';

/**
 * A connection handed out before it exists: the dialler must return a stream at once (TLS to the
 * apiserver starts writing its ClientHello on the spot), while the relay through a peer is still being
 * upgraded. Writes wait for `attach`; then bytes flow both ways with the socket's backpressure.
 */
export class LateDuplex extends Duplex {
  private socket?: Duplex;
  private pending: { chunk: Buffer; callback: (err?: Error | null) => void }[] = [];
  private ending?: () => void;
  private readonly cleanups: (() => void)[] = [];

  constructor() {
    super({ allowHalfOpen: false });
    // Its user sees errors through its own listeners; one destroyed before use must not crash the process.
    this.on('error', () => undefined);
  }

  /** Runs when this stream is destroyed (the request still upgrading is aborted). */
  onDestroy(fn: () => void): void {
    this.cleanups.push(fn);
  }

  attach(socket: Duplex, head: Buffer): void {
    if (this.destroyed) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    if (head.length) this.push(head);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    for (const { chunk, callback } of this.pending) socket.write(chunk, callback);
    this.pending = [];
    if (this.ending) {
      socket.end();
      this.ending();
    }
  }

  override _read(): void {
    this.socket?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.socket) this.socket.write(chunk, callback);
    else this.pending.push({ chunk, callback });
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.socket) {
      this.socket.end();
      callback();
    } else this.ending = () => callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket?.destroy();
    for (const fn of this.cleanups.splice(0)) fn();
    for (const { callback: cb } of this.pending.splice(0)) cb(err ?? new Error('relay closed'));
    callback(err);
  }
}
