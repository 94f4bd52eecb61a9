import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { PeerDialEndpoint } from './endpoint';

/**
 * A worker's private listener: a Unix socket in the primary's 0700 directory, serving only the relay
 * endpoint to the other workers. Plain HTTP, since the bytes never leave the machine and only this user
 * can connect; the dial is still signed (the workers' own secret), as between replicas.
 */
export async function listenForWorkers(socketPath: string, endpoint: PeerDialEndpoint): Promise<{ close(): Promise<void> }> {
  const server = http.createServer((_req, res) => void res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only relays are served here\n'));
  server.on('upgrade', (req, socket, head) => endpoint.handle(req, socket, head, { baseUrl: 'http://worker', remoteAddress: 'worker', requestId: crypto.randomUUID() }));
  // A socket left by a worker that crashed under the same id (ids are not reused by node:cluster, but be sure).
  fs.rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        fs.rmSync(socketPath, { force: true });
      }),
  };
}
