import type { IncomingMessage } from 'node:http';
import { PassThrough, type Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';
import { exitStatus, runCommand, type Command } from './commands';
import type { ExecParams } from './exec-websocket';

/** What kube-apiserver accepts over SPDY: no v5 (that is WebSocket-only). */
export const spdyExecProtocols = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

/** First client-offered version the server supports, as httpstream.Handshake negotiates. */
export function chooseSpdyProtocol(req: IncomingMessage): string | undefined {
  const offered = (req.headersDistinct['x-stream-protocol-version'] ?? []).flatMap((v) => v.split(',').map((s) => s.trim()));
  return offered.find((p) => spdyExecProtocols.includes(p));
}

function switchingProtocols(socket: Duplex, head: Buffer, protocol: string): void {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
  if (head.length) socket.unshift(head);
}

/**
 * Test-only "raw" SPDY: answers 101 like the apiserver and then echoes every byte back, which is all a
 * proxy's splice test needs; no SPDY framing is parsed.
 */
export function serveRawSpdy(socket: Duplex, head: Buffer, protocol: string): void {
  switchingProtocols(socket, head, protocol);
  socket.pipe(socket);
}

/** spdy-transport's flow-control window of a stream or of the session. */
interface SpdyWindowed {
  _spdyState: { window: { send: { updateMax(max: number): void } } };
}
interface SpdyStream extends Duplex, SpdyWindowed {
  headers: Record<string, string>;
  respond(status: number, headers: Record<string, string>): void;
}
interface SpdyConnection extends SpdyWindowed {
  start(version: number): void;
  on(event: 'stream', fn: (s: SpdyStream) => void): void;
  on(event: 'error', fn: (e: Error) => void): void;
}
interface SpdyTransport {
  connection: { create(socket: Duplex, opts: { protocol: 'spdy'; isServer: boolean }): SpdyConnection };
}

// spdy-transport is written for HTTP over SPDY and rejects SYN_STREAMs without `:method`/`:path`;
// kubectl's spdystream sends only `streamtype`, so fill those in before the check.
const transport = require('spdy-transport') as SpdyTransport;
const spdyParser = require('spdy-transport/lib/spdy-transport/protocol/spdy/parser') as { create(o: object): object };
const parserProto = Object.getPrototypeOf(spdyParser.create({ window: {}, zlib: {} })) as {
  parseKVs(body: unknown, cb: (err: Error | null, headers?: Record<string, string>) => void): void;
};
const parseKVs = parserProto.parseKVs;
parserProto.parseKVs = function (this: unknown, body, cb) {
  parseKVs.call(this, body, (err, headers) => {
    if (headers && !headers[':method']) Object.assign(headers, { ':method': 'POST', ':path': '/' });
    cb(err, headers);
  });
};

/**
 * Exec over SPDY/3.1 the way the kubelet serves it: the client opens one stream per `streamtype`
 * (error, stdin, stdout, stderr, resize); the command runs once the expected ones exist, and the exit
 * status goes on the error stream before every stream is closed.
 */
export function serveSpdyExec(socket: Duplex, head: Buffer, protocol: string, params: ExecParams, commands: Map<string, Command>, onResize: (size: unknown) => void): void {
  switchingProtocols(socket, head, protocol);
  const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: true });
  conn.start(3.1);
  conn.on('error', () => socket.destroy());
  const abort = new AbortController();
  socket.on('close', () => abort.abort());
  const streams = new Map<string, SpdyStream>();
  const expected = ['error', ...(params.stdin ? ['stdin'] : []), ...(params.stdout ? ['stdout'] : []), ...(params.stderr && !params.tty ? ['stderr'] : [])];
  const stdin = params.stdin ? new PassThrough() : null;
  let started = false;

  conn.on('stream', (s) => {
    s.respond(200, {});
    s.on('error', () => {});
    const type = s.headers.streamtype;
    streams.set(type, s);
    if (type === 'stdin' && stdin) {
      s.on('data', (d: Buffer) => stdin.write(d));
      s.on('end', () => stdin.end());
    } else if (type === 'resize') {
      s.on('data', (d: Buffer) => onResize(d.toString('utf8')));
    } else s.resume();
    if (started || !expected.every((t) => streams.has(t))) return;
    started = true;
    const write = (t: string) => (d: Buffer | string) => void streams.get(t)?.write(d);
    void runCommand(commands, params.command, {
      stdout: write('stdout'),
      stderr: params.tty ? write('stdout') : write('stderr'),
      stdin,
      signal: abort.signal,
    }).then((code) => {
      const errorStream = streams.get('error')!;
      if (protocol === 'v4.channel.k8s.io') errorStream.write(JSON.stringify(exitStatus(params.command, code)));
      else if (code !== 0) errorStream.write(`command terminated with non-zero exit code: exit code ${code}`);
      for (const st of streams.values()) st.end();
    });
  });
}

/**
 * Port-forward over SPDY/3.1 as the kubelet serves it: per forwarded connection the client opens an
 * `error` and a `data` stream (headers `port`, `requestid`); the pod's port here is an echo server, so
 * every byte on a data stream comes back on it.
 */
export function serveSpdyPortForward(socket: Duplex, head: Buffer): void {
  switchingProtocols(socket, head, 'portforward.k8s.io');
  servePortForwardStreams(socket);
}

/** The WebSocket subprotocol of port-forward tunnelled over WebSocket (kubectl ≥ 1.31, PortForwardWebsockets). */
export const TUNNELED_PORT_FORWARD = 'SPDY/3.1+portforward.k8s.io';

/**
 * Port-forward over WebSocket as kube-apiserver serves it to kubectl ≥ 1.31: the same SPDY/3.1 session
 * as above, its bytes carried as the payloads of binary messages (no channel byte, message boundaries
 * mean nothing); the apiserver swallows the kubelet's 101 and answers the WebSocket handshake with
 * `SPDY/3.1+` and the protocol the kubelet chose.
 */
export function serveTunneledPortForward(ws: WebSocket): void {
  const stream = createWebSocketStream(ws);
  stream.on('error', () => stream.destroy());
  servePortForwardStreams(stream);
}

/**
 * kubectl's and the kubelet's spdystream never send WINDOW_UPDATE and ignore the peer's windows, while
 * spdy-transport honours them and would stop after 64 KiB per session: open the send windows wide.
 */
const WIDE_WINDOW = 2 ** 30;

function servePortForwardStreams(socket: Duplex): void {
  const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: true });
  conn.start(3.1);
  conn._spdyState.window.send.updateMax(WIDE_WINDOW);
  conn.on('error', () => socket.destroy());
  conn.on('stream', (s) => {
    s._spdyState.window.send.updateMax(WIDE_WINDOW);
    s.respond(200, {});
    s.on('error', () => {});
    if (s.headers.streamtype === 'data') s.pipe(s);
    else s.resume();
  });
}
