import http from 'node:http';
import https from 'node:https';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

/** Opens one connection to the agent's (or driver's) registered address through its tunnel. */
export type Dialler = () => Duplex;

/**
 * A dialled stream (a tunnel's virtual connection) as Node's http client and Agent use a socket: they
 * call `setTimeout` (request deadlines, the agent's idle keep-alive timeout), `setKeepAlive`,
 * `setNoDelay`, `ref` and `unref`, which a plain Duplex does not have. The timeout is an idle timeout,
 * as on a net.Socket: any byte either way restarts it.
 */
export class StreamSocket extends Duplex {
  readonly connecting = false;
  timeout = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly inner: Duplex) {
    super({ allowHalfOpen: false });
    inner.on('data', (chunk: Buffer) => {
      this.touch();
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    // A stream closed without an end or an error (a tunnel torn down) still ends what reads from it.
    inner.on('close', () => this.readableEnded || this.push(null));
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.touch();
    this.inner.write(chunk, encoding, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.inner.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    clearTimeout(this.timer);
    this.inner.destroy();
    callback(err);
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.timeout = ms;
    if (callback) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    this.touch();
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  private touch(): void {
    clearTimeout(this.timer);
    if (this.timeout <= 0 || this.destroyed) return;
    this.timer = setTimeout(() => this.emit('timeout'), this.timeout);
    this.timer.unref();
  }
}

/** An http.Agent whose connections come from `dial` instead of a TCP dial. */
export class DialledHttpAgent extends http.Agent {
  constructor(
    private readonly dial: Dialler,
    opts: http.AgentOptions = {},
  ) {
    super(opts);
  }

  override createConnection(): Duplex {
    return new StreamSocket(this.dial());
  }
}

/**
 * An https.Agent whose connections are TLS over a stream from `dial`: the certificate is verified with
 * the agent's options exactly as over a TCP connection (CA, server name, `rejectUnauthorized`).
 */
export class DialledHttpsAgent extends https.Agent {
  constructor(
    private readonly dial: Dialler,
    opts: https.AgentOptions = {},
  ) {
    super(opts);
  }

  override createConnection(options: https.RequestOptions): Duplex {
    return tls.connect({ ...(options as tls.ConnectionOptions), socket: this.dial() });
  }
}
