import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config, ListenerConfig } from '../config/config';
import type { Logger } from '../log';
import { sendJson } from './respond';
import type { Mount, RequestInfo } from './types';

export interface Listening {
  servers: http.Server[];
  /** Base URLs actually bound (ports resolved when 0 was asked for). */
  urls: string[];
  close(): Promise<void>;
}

function requestInfo(req: http.IncomingMessage, secure: boolean): RequestInfo {
  const local = req.socket.localAddress ?? '127.0.0.1';
  const host = req.headers.host ?? `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
  return {
    baseUrl: `${secure ? 'https' : 'http'}://${host}`,
    remoteAddress: req.socket.remoteAddress ?? '',
    requestId: crypto.randomUUID(),
  };
}

function matches(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`) || (prefix.endsWith('/') && path === prefix.slice(0, -1));
}

/** The one request listener behind every listener: dispatches by path prefix, renders unexpected failures. */
export function requestListener(mounts: Mount[], logger: Logger, secure: boolean): http.RequestListener {
  return (req, res) => {
    const info = requestInfo(req, secure);
    res.setHeader('x-request-id', info.requestId);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const mount = mounts.find((m) => matches(path, m.prefix));
    if (!mount) {
      sendJson(res, 404, { code: 'NOT_FOUND', message: `no route for ${path}` });
      return;
    }
    mount.handler(req, res, info).catch((err: unknown) => {
      logger.error({ err, requestId: info.requestId, path }, 'unhandled error in request handler');
      if (!res.headersSent) sendJson(res, 500, { code: 'INTERNAL_SERVER_ERROR', message: `internal error (request id ${info.requestId})` });
      else res.destroy();
    });
  };
}

const REFUSED_UPGRADE = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 37\r\n\r\nthis path does not accept an upgrade\n';

/** Upgrade requests (WebSocket, SPDY) go only to mounts that take them; anything else is refused and closed. */
export function upgradeListener(mounts: Mount[], logger: Logger, secure: boolean) {
  return (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    const info = requestInfo(req, secure);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const mount = mounts.find((m) => matches(path, m.prefix));
    if (!mount?.upgrade) {
      socket.end(REFUSED_UPGRADE);
      return;
    }
    mount.upgrade(req, socket, head, info).catch((err: unknown) => {
      logger.error({ err, requestId: info.requestId, path }, 'unhandled error in upgrade handler');
      socket.destroy();
    });
  };
}

/**
 * Slow clients may not hold a socket open while sending headers; long-running responses (watch, exec)
 * are not limited here: Node's request timeout covers only receiving the request.
 */
function harden(server: http.Server): void {
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 65_000;
}

async function listen(server: http.Server, at: ListenerConfig): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/** Starts the TLS listener and/or the plain one, as configured. */
export async function startListeners(config: Config, mounts: Mount[], logger: Logger): Promise<Listening> {
  const servers: http.Server[] = [];
  const urls: string[] = [];
  const fmt = (scheme: string, a: AddressInfo): string => `${scheme}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  try {
    if (config.tls) {
      const server = https.createServer(
        {
          cert: fs.readFileSync(config.tls.certFile),
          key: fs.readFileSync(config.tls.keyFile),
          ca: config.tls.caFile ? fs.readFileSync(config.tls.caFile) : undefined,
          requestCert: config.tls.verifyClientTls,
          rejectUnauthorized: config.tls.verifyClientTls,
        },
        requestListener(mounts, logger, true),
      );
      server.on('upgrade', upgradeListener(mounts, logger, true));
      harden(server);
      servers.push(server);
      urls.push(fmt('https', await listen(server, config.tls)));
    }
    if (config.plain) {
      const server = http.createServer(requestListener(mounts, logger, false));
      server.on('upgrade', upgradeListener(mounts, logger, false));
      harden(server);
      servers.push(server);
      urls.push(fmt('http', await listen(server, config.plain)));
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    servers,
    urls,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeIdleConnections();
              // Watches and exec sessions would hold shutdown open for ever; they reconnect elsewhere.
              setTimeout(() => s.closeAllConnections(), 2_000).unref();
            }),
        ),
      );
    },
  };
}
