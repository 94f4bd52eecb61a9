import net from 'node:net';

/**
 * How a cut looks to the client: `refuse` stops listening (new connections get ECONNREFUSED, as when the
 * database process is gone); `reset` still accepts but resets every connection at once (as a server
 * that crashes on accept or a firewall sending RST); `blackhole` accepts and keeps connections open but
 * passes no byte either way (a partition: the client only notices through its own timeouts).
 * Connections open at the moment of a cut are reset in every mode but `blackhole`.
 */
export type CutMode = 'refuse' | 'reset' | 'blackhole';

/**
 * A TCP proxy in front of a server (MariaDB in the tests) that can lose it on demand: a gateway whose DSN
 * names this proxy's port sees its database go away at `cut()` and come back at `restore()`.
 */
export class TcpCut {
  private server: net.Server | undefined;
  /** Every socket of every live connection, both the accepted side and the link to the target. */
  private readonly sockets = new Set<net.Socket>();
  /** The accepted side of each connection, reset on a cut. */
  private readonly clients = new Set<net.Socket>();
  private mode: CutMode | undefined;
  private trigger: { match: (sent: string) => boolean; mode: CutMode; fired: () => void } | undefined;
  port = 0;
  /** Connections accepted since start (both before and during cuts). */
  accepted = 0;

  private constructor(
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpCut> {
    const proxy = new TcpCut(targetPort, targetHost);
    await proxy.listen(0);
    return proxy;
  }

  private listen(port: number): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** The cut in place, if any. */
  get state(): CutMode | undefined {
    return this.mode;
  }

  private accept(client: net.Socket): void {
    this.accepted += 1;
    client.on('error', () => undefined);
    // `refuse` too: a connection the kernel completed just before the listener closed must not get through.
    if (this.mode === 'reset' || this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    this.clients.add(client);
    this.sockets.add(client);
    const upstream = this.mode === 'blackhole' ? undefined : net.connect(this.targetPort, this.targetHost);
    const close = (): void => {
      this.clients.delete(client);
      this.sockets.delete(client);
      client.destroy();
      if (upstream) {
        this.sockets.delete(upstream);
        upstream.destroy();
      }
    };
    client.once('close', close);
    if (!upstream) return;
    this.sockets.add(upstream);
    upstream.on('error', () => undefined);
    upstream.once('close', () => (client.destroyed ? undefined : client.resetAndDestroy()));
    client.on('data', (chunk: Buffer) => {
      const trigger = this.trigger;
      if (trigger && trigger.match(chunk.toString('latin1'))) {
        // The chunk that fires the cut is never forwarded: the statement dies with the store.
        this.trigger = undefined;
        void this.cut(trigger.mode).then(trigger.fired);
        return;
      }
      if (this.mode !== 'blackhole') upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.mode !== 'blackhole') client.write(chunk);
    });
  }

  /** Loses the target: see CutMode. Resolves once the cut is in place (listener closed for `refuse`). */
  async cut(mode: CutMode = 'refuse'): Promise<void> {
    this.mode = mode;
    if (mode !== 'blackhole') {
      for (const s of [...this.clients]) s.resetAndDestroy();
      for (const s of [...this.sockets]) s.destroy();
    }
    if (mode === 'refuse' && this.server) {
      const server = this.server;
      this.server = undefined;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /**
   * Arms a cut that happens when a client sends bytes `match` accepts (MySQL sends statements as text, so
   * a statement's SQL identifies the moment): the store goes away exactly as that statement is sent.
   * Resolves once the cut has happened.
   */
  cutWhen(match: (sent: string) => boolean, mode: CutMode = 'refuse'): Promise<void> {
    return new Promise((resolve) => {
      this.trigger = { match, mode, fired: resolve };
    });
  }

  /** Accepts and forwards again, on the same port. Connections held by a blackhole are reset (their streams lost bytes). */
  async restore(): Promise<void> {
    const was = this.mode;
    this.mode = undefined;
    if (was === 'blackhole') {
      for (const s of [...this.clients]) s.resetAndDestroy();
      for (const s of [...this.sockets]) s.destroy();
    }
    if (!this.server) await this.listen(this.port);
  }

  /** Connections currently open through the proxy. */
  get open(): number {
    return this.clients.size;
  }

  async close(): Promise<void> {
    this.mode = 'reset';
    for (const s of [...this.sockets]) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
