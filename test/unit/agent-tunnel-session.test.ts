/**
 * The agent's tunnel session in-process, with a stand-in websocket whose buffering the test controls:
 * flow control must pause the websocket for a socket that cannot take more, and pause the sockets
 * while the websocket has too much unsent.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { READ_BYTES } from '../../src/agent/frame-buffers';
import { agentMetrics } from '../../src/agent/health';
import { TunnelSession, WS_HIGH_WATER } from '../../src/agent/tunnel-session';
import { createLogger } from '../../src/log';
import { connectPayload, decodeMessage, encodeMessage, MessageType, type TunnelMessage } from '../../src/tunnel/wire';
import { waitFor } from '../helpers/wait';

class StandInWs {
  bufferedAmount = 0;
  paused = 0;
  resumed = 0;
  sent: TunnelMessage[] = [];
  /** Length of every frame sent, header included. */
  frameBytes: number[] = [];
  callbacks: (() => void)[] = [];
  /** Frames not yet "written", with their bytes when sent: a sender may reuse a frame only after its callback. */
  private unsent: { frame: Buffer; copy: Buffer }[] = [];
  /** Frames changed between their send and their callback. */
  overwritten = 0;
  send(frame: Buffer, _opts: unknown, cb: () => void): void {
    const copy = Buffer.from(frame);
    this.frameBytes.push(frame.length);
    this.sent.push(decodeMessage(copy));
    this.unsent.push({ frame, copy });
    this.callbacks.push(cb);
  }
  pause(): void {
    this.paused += 1;
  }
  resume(): void {
    this.resumed += 1;
  }
  terminate(): void {}
  flush(): void {
    this.bufferedAmount = 0;
    for (const { frame, copy } of this.unsent.splice(0)) if (!frame.equals(copy)) this.overwritten += 1;
    for (const cb of this.callbacks.splice(0)) cb();
  }
  bytesFor(connId: number): Buffer {
    return Buffer.concat(this.sent.filter((m) => m.connId === connId && m.type === MessageType.Data).map((m) => m.payload));
  }
  dataFor(connId: number): number {
    return this.sent.filter((m) => m.connId === connId && m.type === MessageType.Data).reduce((n, m) => n + m.payload.length, 0);
  }
}

describe('bcs-api agent: tunnel session flow control', { timeout: 60_000 }, () => {
  let server: net.Server;
  let port = 0;
  const accepted: net.Socket[] = [];

  before(async () => {
    server = net.createServer((s) => {
      accepted.push(s);
      s.pause();
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const s of accepted) s.destroy();
    await new Promise((r) => server.close(r));
  });

  const session = (ws: StandInWs) => new TunnelSession(ws as unknown as WebSocket, new Map([[`127.0.0.1:${port}`, { host: '127.0.0.1', port }]]), createLogger('silent'), agentMetrics());
  const frame = (connId: number, type: MessageType, payload: Buffer) => encodeMessage({ id: 9, connId, type, deadline: type === MessageType.Connect ? 5000 : 0, payload });

  it('pauses the websocket while a virtual connection cannot write, and resumes it when the socket drains', async () => {
    const ws = new StandInWs();
    const s = session(ws);
    const count = accepted.length;
    s.onFrame(frame(2, MessageType.Connect, connectPayload('tcp', `127.0.0.1:${port}`)));
    const peer = await waitFor('the dialled connection', () => accepted[count], 10_000);
    const chunk = Buffer.alloc(256 * 1024, 7);
    let fed = 0;
    // The peer reads nothing: once the kernel's buffers are full the socket's own buffer fills.
    while (!ws.paused && fed < 64 * 1024 * 1024) {
      s.onFrame(frame(2, MessageType.Data, chunk));
      fed += chunk.length;
      if (fed % (8 * 1024 * 1024) === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(ws.paused, 1, `not paused after ${fed} bytes`);
    assert.equal(ws.resumed, 0);
    peer.resume();
    await waitFor('the websocket resumed after the drain', () => ws.resumed === 1, 20_000);
    s.close();
  });

  it('pauses the sockets while the websocket has more than the high-water mark unsent, and resumes below the low one', async () => {
    const ws = new StandInWs();
    const s = session(ws);
    const count = accepted.length;
    s.onFrame(frame(4, MessageType.Connect, connectPayload('tcp', `127.0.0.1:${port}`)));
    const peer = await waitFor('the dialled connection', () => accepted[count], 10_000);
    peer.resume();
    ws.bufferedAmount = WS_HIGH_WATER + 1;
    peer.write(Buffer.alloc(1024, 1));
    await waitFor('the first chunk sent', () => ws.dataFor(4) >= 1024, 10_000);
    const before = ws.dataFor(4);
    // The agent's socket is paused: nothing more is read from the apiserver while the websocket is full.
    peer.write(Buffer.alloc(4096, 2));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ws.dataFor(4), before);
    ws.flush();
    await waitFor('reading resumed after the websocket drained', () => ws.dataFor(4) === before + 4096, 10_000);
    s.close();
  });

  it('carries what the apiserver sends intact while reusing frame buffers only once the websocket is done with them', async () => {
    const ws = new StandInWs();
    const s = session(ws);
    const count = accepted.length;
    s.onFrame(frame(10, MessageType.Connect, connectPayload('tcp', `127.0.0.1:${port}`)));
    const peer = await waitFor('the dialled connection', () => accepted[count], 10_000);
    const body = crypto.randomBytes(8 * 1024 * 1024);
    peer.write(body);
    // The websocket takes frames a few reads late, as a busy socket does.
    const flusher = setInterval(() => ws.flush(), 2);
    try {
      await waitFor('every byte sent', () => ws.dataFor(10) >= body.length, 20_000);
    } finally {
      clearInterval(flusher);
    }
    ws.flush();
    assert.equal(ws.overwritten, 0, 'a frame was reused before the websocket was done with it');
    assert.ok(ws.bytesFor(10).equals(body), 'the bytes arrived changed');
    s.close();
  });

  it('sends a full read as one frame that fills at most four TLS records with its websocket header', async () => {
    const ws = new StandInWs();
    const s = session(ws);
    const count = accepted.length;
    s.onFrame(frame(11, MessageType.Connect, connectPayload('tcp', `127.0.0.1:${port}`)));
    const peer = await waitFor('the dialled connection', () => accepted[count], 10_000);
    peer.write(Buffer.alloc(4 * 1024 * 1024));
    await waitFor('every byte sent', () => (ws.flush(), ws.dataFor(11) >= 4 * 1024 * 1024), 20_000);
    const full = ws.sent.filter((m) => m.connId === 11 && m.payload.length === READ_BYTES).length;
    assert.ok(full > 0, 'no read filled the read buffer');
    // A client's header for a payload under 64 KiB: 2 bytes, a 16-bit length and the mask key.
    assert.ok(Math.max(...ws.frameBytes) + 8 <= 4 * 16 * 1024, `a frame of ${Math.max(...ws.frameBytes)} bytes takes a fifth TLS record`);
    s.close();
  });

  it('answers Data for an unknown connection and a refused Connect with Error messages', () => {
    const ws = new StandInWs();
    const s = session(ws);
    s.onFrame(frame(6, MessageType.Data, Buffer.from('x')));
    s.onFrame(frame(8, MessageType.Connect, connectPayload('tcp', '10.0.0.1:443')));
    assert.deepEqual(
      ws.sent.map((m) => [m.connId, m.type, m.payload.toString()]),
      [
        [6, MessageType.Error, 'connection not found'],
        [8, MessageType.Error, 'connect to 10.0.0.1:443 not allowed'],
      ],
    );
    assert.equal(s.openConnections, 0);
  });

  it('closes an apiserver connection the gateway ended once the apiserver has not closed its side within the grace', async () => {
    let closed = false;
    // An apiserver that keeps its side open after the agent's FIN, and keeps writing.
    const sockets: net.Socket[] = [];
    const halfOpen = net.createServer({ allowHalfOpen: true }, (sock) => {
      sockets.push(sock);
      sock.on('error', () => undefined);
      sock.resume();
      const timer = setInterval(() => sock.write('still here'), 50);
      sock.on('close', () => {
        clearInterval(timer);
        closed = true;
      });
    });
    await new Promise<void>((r) => halfOpen.listen(0, '127.0.0.1', () => r()));
    const hp = (halfOpen.address() as net.AddressInfo).port;
    try {
      const ws = new StandInWs();
      const s = new TunnelSession(ws as unknown as WebSocket, new Map([[`127.0.0.1:${hp}`, { host: '127.0.0.1', port: hp }]]), createLogger('silent'), agentMetrics(), 300);
      s.onFrame(frame(3, MessageType.Connect, connectPayload('tcp', `127.0.0.1:${hp}`)));
      await waitFor('data from the apiserver', () => ws.dataFor(3) > 0, 5000);
      s.onFrame(frame(3, MessageType.Error, Buffer.from('EOF')));
      assert.equal(s.openConnections, 0);
      await waitFor('the half-closed socket is closed after the grace', () => closed, 5000);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => halfOpen.close(r));
    }
  });
});
