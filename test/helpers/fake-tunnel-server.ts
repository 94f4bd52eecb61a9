import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { connectPayload, decodeMessage, encodeMessage, EOF_REASON, MessageType } from '../../src/tunnel/wire';
import { generateCerts } from './fake-kube/certs';

/**
 * The gateway's side of the reverse tunnel, just enough to drive an agent: TLS with its own CA, the
 * handshake recorded (and refused with 401 on demand), Connect sent on request, and each virtual
 * connection handed back as a Duplex.
 */
export class FakeTunnelServer {
  readonly caPem: string;
  url = '';
  /** 'accept' or an HTTP status to refuse handshakes with. */
  refuseWith: number | undefined;
  readonly handshakes: IncomingMessage['headers'][] = [];
  readonly sessions: TunnelPeer[] = [];
  private readonly server: https.Server;
  private readonly wss = new WebSocketServer({ noServer: true });

  private constructor() {
    const certs = generateCerts();
    this.caPem = certs.caPem;
    this.server = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (_req, res) => res.writeHead(404).end());
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.url !== '/bcsapi/v1/websocket/connect') {
        socket.destroy();
        return;
      }
      this.handshakes.push(req.headers);
      if (this.refuseWith) {
        socket.end(`HTTP/1.1 ${this.refuseWith} Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 21\r\nconnection: close\r\n\r\nfailed authentication`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.sessions.push(new TunnelPeer(ws)));
    });
  }

  static async start(): Promise<FakeTunnelServer> {
    const s = new FakeTunnelServer();
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', () => resolve()));
    s.url = `https://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/** One agent session seen from the server. */
export class TunnelPeer {
  private nextConnId = 2;
  private readonly conns = new Map<number, VirtualConn>();
  pings = 0;
  closed = false;

  constructor(readonly ws: WebSocket) {
    ws.on('ping', () => (this.pings += 1));
    ws.on('close', () => {
      this.closed = true;
      for (const c of this.conns.values()) c.destroy(new Error('session closed'));
    });
    ws.on('message', (data: Buffer) => {
      const m = decodeMessage(data);
      const conn = this.conns.get(m.connId);
      if (!conn) return;
      if (m.type === MessageType.Data) conn.push(Buffer.from(m.payload));
      else if (m.type === MessageType.Error) {
        this.conns.delete(m.connId);
        conn.remoteError = m.payload.toString('utf8');
        if (conn.remoteError === EOF_REASON) conn.push(null);
        else conn.destroy(new Error(conn.remoteError));
      }
    });
  }

  /** Sends Connect `<proto>/<address>` and returns the virtual connection. */
  dial(address: string, proto = 'tcp'): VirtualConn {
    const connId = this.nextConnId++;
    const conn = new VirtualConn(this, connId);
    this.conns.set(connId, conn);
    this.send(connId, MessageType.Connect, connectPayload(proto, address), 15_000);
    return conn;
  }

  send(connId: number, type: MessageType, payload: Buffer, deadline = 0): void {
    this.ws.send(encodeMessage({ id: 1, connId, type, deadline, payload }), { binary: true });
  }

  forget(connId: number): void {
    this.conns.delete(connId);
  }
}

export class VirtualConn extends Duplex {
  /** The Error text the agent sent, once it did. */
  remoteError: string | undefined;

  constructor(
    private readonly peer: TunnelPeer,
    readonly connId: number,
  ) {
    super();
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.peer.send(this.connId, MessageType.Data, chunk);
    cb();
  }

  override _final(cb: () => void): void {
    this.peer.send(this.connId, MessageType.Error, Buffer.from(EOF_REASON));
    this.peer.forget(this.connId);
    cb();
  }
}
