import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, afterEach, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import WebSocket, { WebSocketServer } from 'ws';
import { createLogger } from '../../src/log';
import { decodeMessage, encodeMessage, MessageType, type TunnelMessage } from '../../src/tunnel/wire';
import { TunnelMetrics } from '../../proxy/tunnel/metrics';
import { TunnelSession, type SessionLimits } from '../../proxy/tunnel/session';
import type { VirtualConn } from '../../proxy/tunnel/virtual-conn';
import { waitFor } from '../helpers/wait';

const PARAMS = { address: 'https://10.0.0.1:6443', hostPort: '10.0.0.1:6443', userToken: 't', caCertPem: '' };
const LIMITS: SessionLimits = { pingIntervalMs: 5_000, readTimeoutMs: 60_000, connBufferBytes: 64 * 1024, stallMs: 60_000, maxConns: 16 };

interface Pair {
  session: TunnelSession;
  agent: WebSocket;
  received: TunnelMessage[];
  closedReason?: string;
  metrics: TunnelMetrics;
  send(connId: number, type: MessageType, payload: Buffer): void;
}

/** A session on a real websocket, with the test playing the agent on the other end. */
describe('tunnel session: virtual connections and flow control', () => {
  const servers: WebSocketServer[] = [];
  const pairs: Pair[] = [];
  afterEach(() => {
    for (const p of pairs.splice(0)) {
      p.session.close(1000, 'test over');
      p.agent.terminate();
    }
  });
  after(() => servers.forEach((s) => s.close()));

  async function pair(limits: Partial<SessionLimits> = {}, agentOpts: WebSocket.ClientOptions = {}): Promise<Pair> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    servers.push(wss);
    await new Promise((r) => wss.once('listening', r));
    const metrics = new TunnelMetrics(new Registry());
    const p = { received: [] as TunnelMessage[], metrics } as unknown as Pair;
    const accepted = new Promise<void>((resolve) =>
      wss.once('connection', (ws) => {
        p.session = new TunnelSession('c1', PARAMS, '127.0.0.1', ws, { ...LIMITS, ...limits }, metrics, createLogger('silent'), (_s, reason) => (p.closedReason = reason));
        resolve();
      }),
    );
    p.agent = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, agentOpts);
    p.agent.on('message', (f: Buffer) => p.received.push(decodeMessage(f)));
    p.agent.on('error', () => undefined);
    let id = 1;
    p.send = (connId, type, payload) => p.agent.send(encodeMessage({ id: id++, connId, type, payload }));
    await new Promise((r) => p.agent.once('open', r));
    await accepted;
    pairs.push(p);
    return p;
  }

  const connectOf = async (p: Pair, conn: VirtualConn): Promise<void> => {
    await waitFor('Connect received', () => p.received.some((m) => m.type === MessageType.Connect && m.connId === conn.connId));
  };

  it('asks the agent to dial the registered address only, and carries data both ways in bounded frames', async () => {
    const p = await pair();
    assert.throws(() => p.session.dial('10.0.0.2:22', 1000), /only the cluster apiserver/);
    const conn = p.session.dial('10.0.0.1:6443', 15_000);
    await connectOf(p, conn);
    const connect = p.received.find((m) => m.type === MessageType.Connect)!;
    assert.equal(connect.payload.toString(), 'tcp/10.0.0.1:6443');
    assert.equal(connect.deadline, 15_000);
    conn.write(Buffer.alloc(100 * 1024, 7));
    const data = await waitFor('all data', () => {
      const d = p.received.filter((m) => m.type === MessageType.Data && m.connId === conn.connId);
      return d.reduce((n, m) => n + m.payload.length, 0) === 100 * 1024 ? d : undefined;
    });
    assert.ok(data.every((m) => m.payload.length <= 32 * 1024));
    p.send(conn.connId, MessageType.Data, Buffer.from('hello'));
    p.send(conn.connId, MessageType.Error, Buffer.from('EOF'));
    const chunks: Buffer[] = [];
    for await (const c of conn) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'hello', 'data before EOF is delivered, then the stream ends');
    await waitFor('forgotten', () => p.session.connectionCount === 0);
  });

  it('bounds what one unread connection buffers by pausing the websocket, and resumes when it drains', async () => {
    const p = await pair();
    const slow = p.session.dial('10.0.0.1:6443', 1000);
    const other = p.session.dial('10.0.0.1:6443', 1000);
    await connectOf(p, other);
    slow.pause();
    const frame = Buffer.alloc(32 * 1024, 1);
    for (let i = 0; i < 64; i += 1) p.send(slow.connId, MessageType.Data, frame); // 2 MiB
    p.send(other.connId, MessageType.Data, Buffer.from('other'));
    let otherGot = '';
    other.on('data', (c: Buffer) => (otherGot += c.toString()));
    await waitFor('slow buffer over its bound', () => slow.overLimit);
    await new Promise((r) => setTimeout(r, 300));
    // Bounded: the buffer plus what was already in flight on the socket, far below the 2 MiB sent.
    assert.ok(slow.readableLength < 64 * 1024 + 512 * 1024, `buffered ${slow.readableLength}`);
    let read = 0;
    slow.on('data', (c: Buffer) => (read += c.length));
    slow.resume();
    await waitFor('everything delivered after draining', () => read === 2 * 1024 * 1024 && otherGot === 'other', 10_000);
  });

  it('closes a connection whose reader stalls, and the others go on', async () => {
    const p = await pair({ stallMs: 300 });
    const stuck = p.session.dial('10.0.0.1:6443', 1000);
    const other = p.session.dial('10.0.0.1:6443', 1000);
    await connectOf(p, other);
    stuck.pause();
    const failed = new Promise<Error>((resolve) => stuck.once('error', resolve));
    for (let i = 0; i < 8; i += 1) p.send(stuck.connId, MessageType.Data, Buffer.alloc(32 * 1024));
    p.send(other.connId, MessageType.Data, Buffer.from('still here'));
    let otherGot = '';
    other.on('data', (c: Buffer) => (otherGot += c.toString()));
    assert.match((await failed).message, /reader stalled/);
    await waitFor('other connection served', () => otherGot === 'still here', 5_000);
    const closeMsg = await waitFor('Error sent for the stalled connection', () => p.received.find((m) => m.type === MessageType.Error && m.connId === stuck.connId));
    assert.match(closeMsg.payload.toString(), /stalled/);
    assert.ok(p.session.isOpen);
  });

  it('reports an agent-side dial failure as a connection error with an errno code', async () => {
    const p = await pair();
    const conn = p.session.dial('10.0.0.1:6443', 1000);
    await connectOf(p, conn);
    const failed = new Promise<NodeJS.ErrnoException>((resolve) => conn.once('error', resolve));
    p.send(conn.connId, MessageType.Error, Buffer.from('dial tcp 10.0.0.1:6443: connect: connection refused'));
    const err = await failed;
    assert.equal(err.code, 'ECONNREFUSED');
    assert.ok(!p.received.some((m) => m.type === MessageType.Error && m.connId === conn.connId), 'an Error from the agent is not echoed back');
  });

  it('reconciles: a connection the agent ended that nobody reads to the end is closed and uncounted', async () => {
    const p = await pair({ pingIntervalMs: 50, stallMs: 300 });
    const abandoned = p.session.dial('10.0.0.1:6443', 1000);
    const read = p.session.dial('10.0.0.1:6443', 1000);
    await connectOf(p, abandoned);
    await connectOf(p, read);
    const readEnded = new Promise((r) => read.on('end', r));
    read.resume();
    assert.equal(p.metrics.conns, 2);
    // The agent ends both cleanly; `abandoned` has no reader, so its end is never consumed.
    p.send(abandoned.connId, MessageType.Error, Buffer.from('EOF'));
    p.send(read.connId, MessageType.Error, Buffer.from('EOF'));
    await readEnded;
    await waitFor('the read connection is gone', () => p.metrics.conns === 1, 2000);
    assert.equal(abandoned.destroyed, false);
    await waitFor('the abandoned connection is closed by reconciliation', () => abandoned.destroyed && p.metrics.conns === 0, 5000);
    assert.equal(p.session.connectionCount, 0);
    assert.ok(!p.received.some((m) => m.type === MessageType.Error), 'nothing is sent back for connections the agent closed');
    assert.ok(p.session.isOpen);
  });

  it('pings the agent and closes a session it stops answering; its connections fail', async () => {
    const alive = await pair({ pingIntervalMs: 50, readTimeoutMs: 300 });
    const silent = await pair({ pingIntervalMs: 50, readTimeoutMs: 300 }, { autoPong: false });
    const conn = silent.session.dial('10.0.0.1:6443', 1000);
    const failed = new Promise<Error>((resolve) => conn.once('error', resolve));
    await waitFor('silent session closed', () => silent.closedReason, 5_000);
    assert.match(silent.closedReason!, /nothing heard/);
    assert.match((await failed).message, /tunnel closed/);
    assert.equal(silent.session.connectionCount, 0);
    assert.ok(alive.session.isOpen, 'an agent that answers pings keeps its session');
  });

  it('closes a session whose agent stops reading (write deadline), failing its writers', async () => {
    const p = await pair({ pingIntervalMs: 50, readTimeoutMs: 500 });
    const conn = p.session.dial('10.0.0.1:6443', 1000);
    await connectOf(p, conn);
    // The agent stops reading its socket: what the gateway queues for it stops draining.
    (p.agent as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const chunk = Buffer.alloc(1024 * 1024);
    let written = 0;
    const failed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
    const pump = (): void => {
      while (!conn.destroyed && written < 256 * 1024 * 1024) {
        written += chunk.length;
        if (!conn.write(chunk)) return void conn.once('drain', pump);
      }
    };
    pump();
    await waitFor('session closed by the write deadline', () => p.closedReason, 15_000);
    assert.match(p.closedReason!, /has not read/);
    await failed;
    assert.ok(written < 256 * 1024 * 1024, 'the writer was held back, not buffered without bound');
  });
});
