/**
 * What the TLS listener does to keep each open connection small: TLS starts only once the ClientHello
 * is in the socket (Node then sizes its encrypted-input buffer by it, not by a 64 KiB read), a client
 * that sends nothing is closed, HTTP/2, HTTP/1.1 and large bodies still work, and a connection does not
 * keep a whole 8 KiB Buffer pool alive for its copy of the ALPN list.
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import v8 from 'node:v8';
import vm from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { releaseAlpnCopy, startTlsAfterHello } from '../../src/http/tls-memory';
import { generateCerts, type FakeKubeCerts } from '../helpers/fake-kube/certs';
import { waitFor } from '../helpers/wait';

v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;

/** Buffer memory (bytes) once garbage from earlier work, finished sockets included, has been collected. */
async function liveArrayBuffers(): Promise<number> {
  for (let i = 0; i < 3; i += 1) {
    await new Promise((r) => setImmediate(r));
    collect();
  }
  return process.memoryUsage().arrayBuffers;
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** A stand-in for a TLS server: one connection listener that records what the socket holds when called. */
function recordingServer(): { server: EventEmitter; calls: { readable: number; bytes: string }[] } {
  const server = new EventEmitter();
  const calls: { readable: number; bytes: string }[] = [];
  server.on('connection', (socket: net.Socket) => {
    const readable = socket.readableLength;
    calls.push({ readable, bytes: String(socket.read() ?? '') });
    socket.destroy();
  });
  return { server, calls };
}

describe('TLS listener: memory per open connection', { timeout: 60_000 }, () => {
  let certs: FakeKubeCerts;
  before(() => {
    certs = generateCerts();
  });

  it('does not keep a Buffer pool alive per connection for its copy of the ALPN list', async () => {
    const growth = async (release: boolean): Promise<number> => {
      const server = http2.createSecureServer({ allowHTTP1: true, cert: certs.certPem, key: certs.keyPem });
      if (release) server.on('secureConnection', releaseAlpnCopy);
      const port = await listen(server);
      const clients: tls.TLSSocket[] = [];
      const connect = async (): Promise<void> => {
        const accepted = once(server, 'secureConnection');
        const client = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: certs.caPem });
        clients.push(client);
        await Promise.all([once(client, 'secureConnect'), accepted]);
      };
      try {
        // The first connections set up what every later one shares (code, caches); they are not counted.
        for (let i = 0; i < 5; i += 1) await connect();
        const before = await liveArrayBuffers();
        for (let i = 0; i < 40; i += 1) {
          await connect();
          // Use up the rest of the current pool, as a busy process does between two connections.
          Buffer.from('x'.repeat(4000));
          Buffer.from('y'.repeat(4000));
        }
        return (await liveArrayBuffers()) - before;
      } finally {
        for (const c of clients) c.destroy();
        server.close();
      }
    };
    const kept = await growth(false);
    const released = await growth(true);
    // Without the release each connection pins its own 8 KiB pool; this shows the measure sees it.
    assert.ok(kept >= 40 * 4096, `expected the unreleased copies to hold pools (${kept} bytes)`);
    assert.ok(released < 40 * 1024, `40 connections still hold ${released} bytes of Buffer pools`);
  });

  it('hands a connection to TLS only once its first bytes are back in the socket', async () => {
    const { server, calls } = recordingServer();
    startTlsAfterHello(server as unknown as tls.Server);
    const front = net.createServer((s) => server.emit('connection', s));
    const port = await listen(front);
    try {
      const client = net.connect(port, '127.0.0.1');
      await once(client, 'connect');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(calls.length, 0, 'TLS started before the client sent anything');
      client.write('first-bytes');
      await waitFor('TLS started', () => calls.length === 1);
      assert.deepEqual(calls[0], { readable: 'first-bytes'.length, bytes: 'first-bytes' });
      client.destroy();
    } finally {
      front.close();
    }
  });

  it('closes a connection that sends nothing, without starting TLS', async () => {
    const { server, calls } = recordingServer();
    startTlsAfterHello(server as unknown as tls.Server, 150);
    const front = net.createServer((s) => server.emit('connection', s));
    const port = await listen(front);
    try {
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => undefined);
      await once(client, 'connect');
      await once(client, 'close');
      assert.equal(calls.length, 0);
    } finally {
      front.close();
    }
  });

  it('leaves a server with other connection listeners as it is', () => {
    const server = new EventEmitter();
    const first = (): void => undefined;
    const second = (): void => undefined;
    server.on('connection', first).on('connection', second);
    startTlsAfterHello(server as unknown as tls.Server);
    assert.deepEqual(server.listeners('connection'), [first, second]);
  });

  describe('on a real HTTP/2 + HTTP/1.1 TLS server', () => {
    let server: http2.Http2SecureServer;
    let port: number;
    before(async () => {
      server = http2.createSecureServer({ allowHTTP1: true, cert: certs.certPem, key: certs.keyPem }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          res.setHeader('x-peer', req.socket.remoteAddress ?? '');
          res.setHeader('x-version', req.httpVersion);
          res.end(body.length ? body : 'ok');
        });
      });
      startTlsAfterHello(server);
      server.on('secureConnection', releaseAlpnCopy);
      port = await listen(server);
    });
    after(() => server.close());

    it('serves HTTP/2 with the peer address and the negotiated protocol', async () => {
      const session = http2.connect(`https://localhost:${port}`, { ca: certs.caPem });
      try {
        const req = session.request({ ':path': '/' });
        const [headers] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
        let body = '';
        for await (const c of req) body += String(c);
        assert.equal(headers[':status'], 200);
        assert.equal(headers['x-version'], '2.0');
        assert.equal(headers['x-peer'], '127.0.0.1');
        assert.equal(body, 'ok');
        assert.equal(session.alpnProtocol, 'h2');
      } finally {
        session.close();
      }
    });

    it('serves HTTP/1.1 and echoes a body far larger than the input buffer intact', async () => {
      const body = Buffer.alloc(3 * 1024 * 1024 + 7);
      for (let i = 0; i < body.length; i += 1) body[i] = (i * 31) & 0xff;
      const res = await new Promise<{ status: number; version: string; body: Buffer }>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, servername: 'localhost', ca: certs.caPem, method: 'POST', path: '/', agent: false }, (r) => {
          const parts: Buffer[] = [];
          r.on('data', (c: Buffer) => parts.push(c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, version: String(r.headers['x-version']), body: Buffer.concat(parts) }));
        });
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(res.status, 200);
      assert.equal(res.version, '1.1');
      assert.ok(res.body.equals(body), 'the echoed body differs');
    });
  });

});
