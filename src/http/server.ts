import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
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
      servers.push(server);
      urls.push(fmt('https', await listen(server, config.tls)));
    }
    if (config.plain) {
      const server = http.createServer(requestListener(mounts, logger, false));
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
            }),
        ),
      );
    },
  };
}
