import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import type { Config, ListenerConfig } from '../config/config';
import type { Logger } from '../log';
import { headerViolation, refuseHeaders, refuseUpgradeHeaders } from './header-rules';
import { pathOf } from './request-path';
import { sendJson } from './respond';
import { releaseAlpnCopy, startTlsAfterHello } from './tls-memory';
import type { Mount, RequestInfo } from './types';

/** The plain listener is an http.Server; the TLS one serves HTTP/2 and HTTP/1.1 (ALPN) from one http2 server. */
export type ListenerServer = http.Server | http2.Http2SecureServer;

/**
 * Most streams one client connection may hold open on the TLS listener. client-go multiplexes every
 * watch of a client over one connection; above this it opens another (Go's transport does), while
 * Node's http2 client queues. kube-apiserver's default is 250; the gateway's own cap is max_inflight.
 */
export const H2_MAX_CONCURRENT_STREAMS = 1000;
/** An HTTP/2 connection with no open stream for this long is closed (GOAWAY), like an idle keep-alive socket. */
const H2_IDLE_MS = 65_000;

export interface Listening {
  servers: ListenerServer[];
  /** Base URLs actually bound (ports resolved when 0 was asked for). */
  urls: string[];
  close(): Promise<void>;
}

function requestInfo(req: http.IncomingMessage, secure: boolean): RequestInfo {
  const local = req.socket.localAddress ?? '127.0.0.1';
  // HTTP/2 (compat API) carries the host as the `:authority` pseudo-header and has no Host header.
  const authority = req.headers[':authority'];
  const host = req.headers.host ?? (typeof authority === 'string' ? authority : undefined) ?? `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
  return {
    baseUrl: `${secure ? 'https' : 'http'}://${host}`,
    remoteAddress: req.socket.remoteAddress ?? '',
    requestId: crypto.randomUUID(),
  };
}

/** Finds the mount for a path: the prefix without its trailing slash, or anything under it. */
function mountFinder(mounts: Mount[]): (path: string) => Mount | undefined {
  // Computed once: the router runs on every request, and the tunnel's mount is not the first one.
  const routes = mounts.map((mount) => {
    const under = mount.prefix.endsWith('/') ? mount.prefix : `${mount.prefix}/`;
    return { mount, under, bare: under.slice(0, -1) };
  });
  return (path) => routes.find((r) => path === r.bare || path.startsWith(r.under))?.mount;
}

/** The one request listener behind every listener: dispatches by path prefix, renders unexpected failures. */
export function requestListener(mounts: Mount[], logger: Logger, secure: boolean): http.RequestListener {
  const find = mountFinder(mounts);
  return (req, res) => {
    const info = requestInfo(req, secure);
    const path = pathOf(req.url ?? '/');
    // Before any surface sees the request: every one of them reads these fields from `req.headers`.
    const malformed = headerViolation(req.rawHeaders);
    if (malformed !== undefined) return refuseHeaders(req, res, path, malformed, info.requestId);
    const mount = find(path);
    if (!mount?.setsRequestIdHeader) res.setHeader('x-request-id', info.requestId);
    if (!mount) {
      sendJson(res, 404, { code: 'NOT_FOUND', message: `no route for ${path}` });
      return;
    }
    const fail = (err: unknown): void => {
      logger.error({ err, requestId: info.requestId, path }, 'unhandled error in request handler');
      if (!res.headersSent && mount.setsRequestIdHeader) res.setHeader('x-request-id', info.requestId);
      if (!res.headersSent) sendJson(res, 500, { code: 'INTERNAL_SERVER_ERROR', message: `internal error (request id ${info.requestId})` });
      else res.destroy();
    };
    try {
      mount.handler(req, res, info)?.catch(fail);
    } catch (err) {
      fail(err);
    }
  };
}

const REFUSED_UPGRADE = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 37\r\n\r\nthis path does not accept an upgrade\n';

/** Upgrade requests (WebSocket, SPDY) go only to mounts that take them; anything else is refused and closed. */
export function upgradeListener(mounts: Mount[], logger: Logger, secure: boolean) {
  const find = mountFinder(mounts);
  return (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    const info = requestInfo(req, secure);
    const path = pathOf(req.url ?? '/');
    const malformed = headerViolation(req.rawHeaders);
    if (malformed !== undefined) return refuseUpgradeHeaders(socket, path, malformed, info.requestId);
    const mount = find(path);
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

/**
 * The TLS listener: HTTP/2 for clients that negotiate it over ALPN (kubectl/client-go, browsers), HTTP/1.1
 * for the rest and for every upgrade (WebSocket, SPDY: client-go always dials those with ALPN http/1.1).
 * The HTTP/1.1 fallback takes the same timeouts as the plain listener. An HTTP/2 session is closed when it
 * has had no open stream for H2_IDLE_MS; a session that never sends a request is closed the same way.
 */
function createTlsServer(config: NonNullable<Config['tls']>, mounts: Mount[], logger: Logger, sockets: Set<Socket>, sessions: Set<http2.ServerHttp2Session>): http2.Http2SecureServer {
  const server = http2.createSecureServer(
    {
      allowHTTP1: true,
      cert: fs.readFileSync(config.certFile),
      key: fs.readFileSync(config.keyFile),
      ca: config.caFile ? fs.readFileSync(config.caFile) : undefined,
      requestCert: config.verifyClientTls,
      rejectUnauthorized: config.verifyClientTls,
      settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS },
    },
    // The compat API's request and response stand in for IncomingMessage/ServerResponse; the handlers
    // that read headers cope with what differs (pseudo-headers, no Host, no headersDistinct).
    requestListener(mounts, logger, true) as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  server.on('upgrade', upgradeListener(mounts, logger, true));
  startTlsAfterHello(server);
  const fallback = server as unknown as http.Server;
  fallback.headersTimeout = 20_000;
  fallback.requestTimeout = 120_000;
  fallback.keepAliveTimeout = 65_000;
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    releaseAlpnCopy(socket);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', () => undefined);
    let open = 0;
    session.on('stream', (stream) => {
      open += 1;
      stream.once('close', () => (open -= 1));
    });
    session.setTimeout(H2_IDLE_MS, () => {
      if (open === 0) session.close();
    });
  });
  return server;
}

async function listen(server: ListenerServer, at: ListenerConfig): Promise<AddressInfo> {
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
  const servers: ListenerServer[] = [];
  const tlsSockets = new Set<Socket>();
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  const urls: string[] = [];
  const fmt = (scheme: string, a: AddressInfo): string => `${scheme}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  try {
    if (config.tls) {
      const server = createTlsServer(config.tls, mounts, logger, tlsSockets, h2Sessions);
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
              if (s instanceof http.Server) {
                s.closeIdleConnections();
                // Watches and exec sessions would hold shutdown open for ever; they reconnect elsewhere.
                setTimeout(() => s.closeAllConnections(), 2_000).unref();
                return;
              }
              // TLS listener: GOAWAY to every HTTP/2 session (open streams may finish), idle HTTP/1.1
              // sockets closed now, and whatever is left (watches, exec) cut after the same 2 s.
              for (const session of h2Sessions) session.close();
              (s as unknown as http.Server).closeIdleConnections();
              setTimeout(() => {
                for (const session of h2Sessions) session.destroy();
                for (const socket of tlsSockets) socket.destroy();
              }, 2_000).unref();
            }),
        ),
      );
    },
  };
}
