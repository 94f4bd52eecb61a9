/**
 * Many streaming requests through the gateway at once, over each way a client reaches it: streaming GETs
 * on HTTP/1.1 connections of their own, streams of one HTTP/2 session, and upgrades on raw sockets.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { GatewayEnv } from './gateway-env';

/** Streaming GETs over HTTP/1.1, one connection each; resolves once every response has started. */
export function openH1(url: string, token: string, n: number): Promise<http.ClientRequest[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<http.ClientRequest>((resolve, reject) => {
          const req = http.get(url, { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
            res.on('error', () => undefined);
            res.resume();
            resolve(req);
          });
          req.on('error', reject);
        }),
    ),
  );
}

/** Streaming GETs as streams of one HTTP/2 session to the TLS listener. */
export async function openH2(env: GatewayEnv, path: string, n: number): Promise<{ session: http2.ClientHttp2Session; streams: http2.ClientHttp2Stream[] }> {
  const session = http2.connect(env.httpsUrl, { ca: env.gatewayCaPem, servername: 'localhost' });
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  const streams = Array.from({ length: n }, () => {
    const s = session.request({ ':path': path, authorization: `Bearer ${env.gw.adminToken}` });
    s.on('error', () => undefined);
    s.resume();
    return s;
  });
  await Promise.all(streams.map((s) => new Promise((resolve) => s.once('response', resolve))));
  return { session, streams };
}

/** An upgrade request on a raw socket (plain or TLS listener); resolves with the socket once the answer's head is in. */
export function openUpgrade(env: GatewayEnv, path: string, kind: 'websocket' | 'spdy', over: 'plain' | 'tls'): Promise<{ socket: net.Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const base = new URL(over === 'plain' ? env.tunnelUrl('/') : env.httpsUrl);
    const socket =
      over === 'plain'
        ? net.connect(Number(base.port), base.hostname)
        : tls.connect({ host: base.hostname, port: Number(base.port), ca: env.gatewayCaPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    const upgrade =
      kind === 'websocket'
        ? 'Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: portforward.k8s.io\r\n'
        : 'Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n';
    socket.write(`GET /tunnels/clusters/${env.identifier}${path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${env.gw.adminToken}\r\nConnection: Upgrade\r\n${upgrade}\r\n`);
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve({ socket, head: got });
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}
