import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Per-request facts the edges need beyond the raw request. */
export interface RequestInfo {
  /** `https://host:port` or `http://host:port` as this request reached us. */
  baseUrl: string;
  /** Remote address of the peer (not X-Forwarded-For: nothing in front of us is trusted by default). */
  remoteAddress: string;
  requestId: string;
}

/** May finish synchronously (the tunnel's cached path) or return a promise. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, info: RequestInfo) => void | Promise<void>;

/** A mounted surface: requests whose path starts with `prefix` (or equals it without the trailing slash). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, info: RequestInfo) => Promise<void>;

export interface Mount {
  prefix: string;
  handler: HttpHandler;
  /**
   * The handler sends `X-Request-Id` itself, with the rest of its response head. Otherwise the listener
   * sets it first, which makes Node merge every later header one by one (the tunnel's hot path).
   */
  setsRequestIdHeader?: boolean;
  /** Requests asking for a protocol upgrade (WebSocket, SPDY); without one they are refused. */
  upgrade?: UpgradeHandler;
}
