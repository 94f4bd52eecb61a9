/**
 * The streaming benchmark's apiserver, in a process of its own: TLS, HTTP/2 and HTTP/1.1 over ALPN (as
 * kube-apiserver), one bearer token, and any `GET .../log?limitBytes=N` answered with N bytes of log
 * lines. The body is one 64 KiB buffer written again and again with backpressure, so serving it costs
 * next to nothing: the figures are the proxies', not the fake's. `follow=true` is accepted and changes
 * nothing here (the gateway sends follows over HTTP/2 to the apiserver, other GETs over HTTP/1.1).
 */
import crypto from 'node:crypto';
import http2 from 'node:http2';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateCerts } from '../helpers/fake-kube/certs';

const CHUNK = Buffer.from(`${'x'.repeat(90)} ${'0'.repeat(8)}\n`.repeat(656).slice(0, 65536));

type Res = ServerResponse | http2.Http2ServerResponse;

function writeBody(res: Res, total: number): void {
  let left = total;
  const more = (): void => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const ok = (res as ServerResponse).write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!ok && left > 0) return void res.once('drain', more);
    }
    res.end();
  };
  more();
}

function main(): void {
  const certs = generateCerts();
  const token = crypto.randomBytes(24).toString('hex');
  const server = http2.createSecureServer({ allowHTTP1: true, cert: certs.certPem, key: certs.keyPem, settings: { initialWindowSize: 1 << 20 } }, (req, res) => {
    const url = new URL(req.url, 'https://x');
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end('{"kind":"Status","code":401}');
    }
    const bytes = Number(url.searchParams.get('limitBytes') ?? 1024);
    if (!url.pathname.endsWith('/log') || !Number.isFinite(bytes)) {
      res.writeHead(404);
      return void res.end();
    }
    // No Content-Length, as kube-apiserver streams logs: chunked over HTTP/1.1, DATA frames over HTTP/2.
    res.writeHead(200, { 'content-type': 'text/plain' });
    writeBody(res, bytes);
  });
  server.on('session', (s) => s.setLocalWindowSize?.(1 << 20));
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ url: `https://127.0.0.1:${port}`, caPem: certs.caPem, certPem: certs.certPem, keyPem: certs.keyPem, token })}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

main();
