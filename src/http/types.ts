import type { IncomingMessage, ServerResponse } from 'node:http';

/** Per-request facts the edges need beyond the raw request. */
export interface RequestInfo {
  /** `https://host:port` or `http://host:port` as this request reached us. */
  baseUrl: string;
  /** Remote address of the peer (not X-Forwarded-For: nothing in front of us is trusted by default). */
  remoteAddress: string;
  requestId: string;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, info: RequestInfo) => Promise<void>;

/** A mounted surface: requests whose path starts with `prefix` (or equals it without the trailing slash). */
export interface Mount {
  prefix: string;
  handler: HttpHandler;
}
