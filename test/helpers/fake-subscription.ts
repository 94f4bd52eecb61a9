/**
 * A fake of the permission service's subscription endpoint (§8.6): a websocket server on
 * `/subscribers/bcs-api/sub`, over plain ws:// or TLS (wss://, with a fresh CA from the fake-kube
 * openssl helper). It records every upgrade attempt and the Authorization header it carried, every
 * frame a client sends (the acks) and the websocket pings it receives; it can send hi / ping / data
 * frames, drop connections, refuse upgrades (e.g. 401), and stop answering pings (a half-open peer).
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { Writable } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { createLogger, type Logger } from '../../src/log';
import { generateCerts, type FakeKubeCerts } from './fake-kube/certs';

export const SUB_PATH = '/subscribers/bcs-api/sub';

export interface FakeSubscriptionOptions {
  /** Serve wss:// with a fresh CA (true) or the given certificates. */
  tls?: boolean | FakeKubeCerts;
  /** Answer websocket pings (default true); false imitates a peer that went away without a FIN. */
  autoPong?: boolean;
  /** Refuse (401) any upgrade whose Authorization differs from this. */
  expectAuthorization?: string;
}

export interface UpgradeAttempt {
  at: number;
  path: string;
  authorization?: string;
  /** 101, or the refusal status sent. */
  status: number;
}

export interface SubConnection {
  id: number;
  authorization?: string;
  socket: WebSocket;
  /** Parsed text frames received from the client (non-JSON kept as {raw}). */
  received: Record<string, unknown>[];
  pings: number;
  closed: boolean;
  closeCode?: number;
}

export class FakeSubscriptionServer {
  readonly attempts: UpgradeAttempt[] = [];
  readonly connections: SubConnection[] = [];
  /** TLS handshakes the server saw fail (e.g. the client did not trust our CA). */
  tlsFailures = 0;
  /** When set, every upgrade is answered with this status (e.g. 401) instead of 101. */
  refuseWith?: number;
  expectAuthorization?: string;

  private constructor(
    private readonly server: http.Server | https.Server,
    private readonly wss: WebSocketServer,
    readonly hostPort: string,
    readonly scheme: 'ws' | 'wss',
    readonly certs?: FakeKubeCerts,
  ) {}

  static async start(opts: FakeSubscriptionOptions = {}): Promise<FakeSubscriptionServer> {
    const certs = opts.tls === true ? generateCerts() : opts.tls || undefined;
    const server = certs ? https.createServer({ cert: certs.certPem, key: certs.keyPem }) : http.createServer();
    server.on('request', (_req, res) => {
      res.statusCode = 426;
      res.end('upgrade required');
    });
    const wss = new WebSocketServer({ noServer: true, autoPong: opts.autoPong ?? true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as { port: number };
    const fake = new FakeSubscriptionServer(server, wss, `127.0.0.1:${port}`, certs ? 'wss' : 'ws', certs);
    fake.expectAuthorization = opts.expectAuthorization;
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => fake.onUpgrade(req, socket, head));
    server.on('tlsClientError', () => (fake.tlsFailures += 1));
    return fake;
  }

  /** The full URL of the endpoint. */
  get url(): string {
    return `${this.scheme}://${this.hostPort}${SUB_PATH}`;
  }

  get caPem(): string | undefined {
    return this.certs?.caPem;
  }

  /** The newest connection still open. */
  get current(): SubConnection | undefined {
    return [...this.connections].reverse().find((c) => !c.closed);
  }

  get openConnections(): SubConnection[] {
    return this.connections.filter((c) => !c.closed);
  }

  /** Every ack received, over all connections, in order. */
  get acks(): Record<string, unknown>[] {
    return this.connections.flatMap((c) => c.received.filter((f) => f.type === 'ack'));
  }

  send(frame: unknown, conn = this.mustCurrent()): void {
    conn.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  sendHi(appCode: string, workerId: string, conn?: SubConnection): void {
    this.send({ app_code: appCode, type: 'hi', worker_id: workerId, data_id: '', data: '' }, conn);
  }

  sendPingFrame(appCode: string, conn?: SubConnection): void {
    this.send({ app_code: appCode, type: 'ping', worker_id: '', data_id: '', data: '' }, conn);
  }

  /** A data frame; an object `data` is JSON-encoded into the string the protocol carries, a string is sent as is. */
  sendData(appCode: string, dataId: string, data: unknown, opts: { workerId?: string; conn?: SubConnection; raw?: boolean } = {}): void {
    const encoded = typeof data === 'string' || opts.raw ? data : JSON.stringify(data);
    this.send({ app_code: appCode, type: 'data', worker_id: opts.workerId ?? '', data_id: dataId, data: encoded }, opts.conn);
  }

  /** Drops every open connection without a closing handshake. */
  dropAll(): void {
    for (const c of this.openConnections) c.socket.terminate();
  }

  async close(): Promise<void> {
    for (const c of this.connections) if (!c.closed) c.socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private mustCurrent(): SubConnection {
    const c = this.current;
    if (!c) throw new Error('fake-subscription: no open connection');
    return c;
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client that gives up mid-handshake resets the socket; that is its right, not a test failure.
    socket.on('error', () => undefined);
    const path = (req.url ?? '').split('?')[0]!;
    const authorization = req.headers.authorization;
    let status = 101;
    if (path !== SUB_PATH) status = 404;
    else if (this.refuseWith !== undefined) status = this.refuseWith;
    else if (this.expectAuthorization !== undefined && authorization !== this.expectAuthorization) status = 401;
    this.attempts.push({ at: Date.now(), path, authorization, status });
    if (status !== 101) {
      const text = http.STATUS_CODES[status] ?? 'Refused';
      socket.end(
        `HTTP/1.1 ${status} ${text}\r\n` +
          (status === 401 ? 'WWW-Authenticate: Basic realm="subscription"\r\n' : '') +
          `Connection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: SubConnection = { id: this.connections.length + 1, authorization, socket: ws, received: [], pings: 0, closed: false };
      this.connections.push(conn);
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? '' : data.toString();
        try {
          conn.received.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          conn.received.push({ raw: text });
        }
      });
      ws.on('ping', () => (conn.pings += 1));
      ws.on('error', () => undefined);
      ws.on('close', (code) => {
        conn.closed = true;
        conn.closeCode = code;
      });
    });
  }
}

export { waitFor } from './wait';

/** A debug-level logger whose JSON lines are kept in `lines` (parsed) and `text` (raw). */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(l);
        lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      cb();
    },
  });
  return { logger: createLogger('debug', sink), lines, text: () => raw.join('\n') };
}
