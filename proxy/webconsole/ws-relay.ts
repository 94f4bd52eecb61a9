import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { envelopeBody, refuseUpgrade } from './refuse';
import type { ConsoleTarget, ConsoleTls } from './target';

/** The original's code for console failures (reference §1.4). */
export const WEBCONSOLE_FAILED = 1405064;
const MAX_MESSAGE = 16 * 1024 * 1024;
/** Above this many bytes queued towards one side, the other side is no longer read until it drains. */
const HIGH_WATER = 1024 * 1024;
/** What the backend's refusal may bring back to the client. */
const MAX_REFUSAL_BODY = 64 * 1024;

export interface RelayEnd {
  /** 101 once both sides were connected; else what the client was answered. */
  status: number;
  bytesIn: number;
  bytesOut: number;
  error?: string;
}

/** What the backend chose at its handshake, handed to the client's handshake. */
interface Chosen {
  protocol: string;
  setCookie: string[];
}

/** Codes a close frame may carry (RFC 6455 §7.4): 1005 and 1006 only report what happened locally. */
const sendable = (code: number): boolean => (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);

function closeLike(target: WebSocket, code: number, reason: Buffer): void {
  if (target.readyState === WebSocket.CLOSED || target.readyState === WebSocket.CLOSING) return;
  if (code === 1006) target.terminate();
  else if (sendable(code)) target.close(code, reason);
  else target.close();
}

/** Frames one way, message by message with their type, pausing the source while the sink is behind. */
function forward(from: WebSocket, to: WebSocket, count: (n: number) => void): void {
  from.on('message', (data: Buffer, isBinary: boolean) => {
    count(data.length);
    if (to.readyState !== WebSocket.OPEN) return;
    to.send(data, { binary: isBinary }, () => {
      if (from.isPaused && to.bufferedAmount < HIGH_WATER / 4) from.resume();
    });
    if (to.bufferedAmount > HIGH_WATER) from.pause();
  });
  from.on('close', (code: number, reason: Buffer) => closeLike(to, code, reason));
  from.on('error', () => from.terminate());
}

/**
 * The console over WebSocket: dials the console proxy first (offering the client's subprotocols, its
 * `Origin` and cookies), and only when it accepted completes the client's handshake with the protocol
 * and cookies it chose; then relays frames both ways and closes each side with the other's code.
 */
export class WebSocketRelay {
  private readonly chosen = new WeakMap<IncomingMessage, Chosen>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE,
    handleProtocols: (_offered, req) => this.chosen.get(req)?.protocol || false,
  });

  constructor(
    private readonly tls: ConsoleTls | undefined,
    private readonly handshakeMs: number,
  ) {
    this.wss.on('headers', (headers, req) => {
      for (const cookie of this.chosen.get(req)?.setCookie ?? []) headers.push(`Set-Cookie: ${cookie.replace(/[\r\n]/g, '')}`);
    });
  }

  /** `opened` gets a function that ends the session from our side (the caller's token was revoked). */
  relay(req: IncomingMessage, socket: Duplex, head: Buffer, target: ConsoleTarget, forwarded: { for: string; proto: string }, done: (end: RelayEnd) => void, opened?: (end: () => void) => void): void {
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const headers: Record<string, string> = { 'x-forwarded-for': forwarded.for, 'x-forwarded-proto': forwarded.proto };
    if (typeof req.headers.origin === 'string') headers['origin'] = req.headers.origin;
    if (req.headers.cookie) headers['cookie'] = req.headers.cookie;
    const url = `${target.origin.replace(/^http/, 'ws')}${target.path}`;
    const backend = new WebSocket(url, offered, { headers, handshakeTimeout: this.handshakeMs, perMessageDeflate: false, maxPayload: MAX_MESSAGE, followRedirects: false, ...this.tls });
    let setCookie: string[] = [];
    let settled = false;
    const clientGone = (): void => {
      if (!settled) backend.terminate();
    };
    socket.once('close', clientGone);
    backend.once('upgrade', (res) => {
      setCookie = res.headers['set-cookie'] ?? [];
    });
    backend.once('unexpected-response', (_r, res) => {
      settled = true;
      // The backend's refusal goes back as it came: status, type and (bounded) body.
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if ((size += c.length) <= MAX_REFUSAL_BODY) chunks.push(c);
      });
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const type = res.headers['content-type'] ?? 'text/plain';
        socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
        done({ status: res.statusCode ?? 502, bytesIn: 0, bytesOut: body.length, error: 'backend refused the upgrade' });
      });
      res.on('error', () => socket.destroy());
    });
    backend.once('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      const message = `errcode: ${WEBCONSOLE_FAILED}, couldn't dial to remote backend url ${target.origin}${target.path.split('?')[0]}: ${err.code ?? err.message}`;
      refuseUpgrade(socket, 503, WEBCONSOLE_FAILED, message);
      done({ status: 503, bytesIn: 0, bytesOut: envelopeBody(WEBCONSOLE_FAILED, message).length, error: err.code ?? 'dial failed' });
    });
    backend.once('open', () => {
      settled = true;
      socket.off('close', clientGone);
      if (socket.destroyed) {
        // The client left while the console answered: ws would drop the handshake without calling back.
        backend.terminate();
        return done({ status: 499, bytesIn: 0, bytesOut: 0, error: 'client went away' });
      }
      this.chosen.set(req, { protocol: backend.protocol, setCookie });
      this.wss.handleUpgrade(req, socket, head, (client) => {
        let bytesIn = 0;
        let bytesOut = 0;
        forward(client, backend, (n) => (bytesIn += n));
        forward(backend, client, (n) => (bytesOut += n));
        let open = 2;
        const closed = (): void => {
          if (--open === 0) done({ status: 101, bytesIn, bytesOut });
        };
        client.once('close', closed);
        backend.once('close', closed);
        opened?.(() => {
          client.close(1008, 'the credential of this session is no longer valid');
          backend.close(1001, 'the client session was ended by the gateway');
        });
      });
    });
  }

  close(): void {
    this.wss.close();
  }
}
