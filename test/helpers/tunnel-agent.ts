import net from 'node:net';
import WebSocket from 'ws';
import { decodeMessage, encodeMessage, EOF_REASON, errorPayload, MessageType, parseConnectPayload, type TunnelMessage } from '../../src/tunnel/wire';

export interface TunnelAgentOptions {
  /** `http://host:port` or `https://…` of the gateway. */
  gatewayUrl: string;
  clusterId: string;
  registerToken: string;
  /** What the agent reports in its params (a driver reports only its address). */
  address: string;
  userToken?: string;
  caPem?: string;
  module?: string;
  /** Where a Connect for `host:port` really goes (a driver reporting an address only it can reach); as named by default. */
  dialTo?: (hostPort: string) => { host: string; port: number };
  /** CA of the gateway's TLS listener. */
  gatewayCa?: string;
  /** Overrides of the handshake headers (undefined removes one). */
  headers?: Record<string, string | undefined>;
}

export const tunnelParams = (p: { address: string; userToken?: string; caPem?: string }): string =>
  Buffer.from(JSON.stringify({ address: p.address, userToken: p.userToken, caCert: p.caPem === undefined ? undefined : Buffer.from(p.caPem).toString('base64') })).toString('base64');

export function handshakeHeaders(o: TunnelAgentOptions): Record<string, string> {
  const headers: Record<string, string | undefined> = {
    'BCS-API-Tunnel-Module': o.module ?? 'kube-agent',
    'BCS-API-Tunnel-ClusterId': o.clusterId,
    'BCS-API-Tunnel-Token': o.registerToken,
    'BCS-API-Tunnel-Params': tunnelParams(o),
    ...o.headers,
  };
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
}

/**
 * Plays a kube agent in tests: opens the tunnel with the original's handshake and, for each Connect
 * from the gateway, dials the address with net.connect and pipes it (Data both ways, Error/EOF closes).
 */
export class TunnelAgent {
  readonly ws: WebSocket;
  /** Connect payloads received, in order. */
  readonly connects: string[] = [];
  /** Every message the gateway sent (decoded). */
  readonly received: TunnelMessage[] = [];
  private readonly conns = new Map<number, net.Socket>();
  private id = 1000;
  closeInfo?: { code: number; reason: string };

  private constructor(
    ws: WebSocket,
    private readonly dialTo?: TunnelAgentOptions['dialTo'],
  ) {
    this.ws = ws;
    ws.on('message', (data) => this.onMessage(data as Buffer));
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      for (const s of this.conns.values()) s.destroy();
    });
    ws.on('error', () => undefined);
  }

  /** Resolves once upgraded; rejects with the HTTP status and body of a refusal. */
  static connect(o: TunnelAgentOptions): Promise<TunnelAgent> {
    const url = `${o.gatewayUrl.replace(/^http/, 'ws')}/bcsapi/v1/websocket/connect`;
    const ws = new WebSocket(url, { headers: handshakeHeaders(o), ca: o.gatewayCa, handshakeTimeout: 10_000 });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new TunnelAgent(ws, o.dialTo)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`refused: ${res.statusCode} ${body}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
    });
  }

  send(m: Omit<TunnelMessage, 'id' | 'deadline'>): void {
    this.id += 1;
    this.ws.send(encodeMessage({ ...m, id: this.id }));
  }

  private onMessage(frame: Buffer): void {
    const m = decodeMessage(frame);
    this.received.push(m);
    if (m.type === MessageType.Connect) return this.dial(m);
    const socket = this.conns.get(m.connId);
    if (m.type === MessageType.Data) socket?.write(m.payload);
    else if (m.type === MessageType.Error) {
      this.conns.delete(m.connId);
      socket?.destroy();
    }
  }

  private dial(m: TunnelMessage): void {
    const { proto, address } = parseConnectPayload(m.payload);
    this.connects.push(`${proto}/${address}`);
    const i = address.lastIndexOf(':');
    const socket = net.connect(this.dialTo?.(address) ?? { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) });
    this.conns.set(m.connId, socket);
    socket.on('data', (c: Buffer) => this.send({ connId: m.connId, type: MessageType.Data, payload: c }));
    socket.on('error', (err) => {
      if (this.conns.delete(m.connId)) this.send({ connId: m.connId, type: MessageType.Error, payload: errorPayload(err.message) });
    });
    socket.on('close', () => {
      if (this.conns.delete(m.connId)) this.send({ connId: m.connId, type: MessageType.Error, payload: errorPayload(EOF_REASON) });
    });
  }

  get openConnections(): number {
    return this.conns.size;
  }

  /** The agent process dies: the socket goes without a close frame. */
  kill(): void {
    this.ws.terminate();
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
