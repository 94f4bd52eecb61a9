import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Admitted } from './pipeline';
import type { StatusFailure } from './status';
import { Exchange } from './exchange';

export interface ForwardOptions {
  /** Deadline for response headers on requests that are not long-running. */
  responseTimeoutMs: number;
  longRunning: boolean;
  /** Sent to the client as `X-Request-Id` with the upstream's headers. */
  requestId?: string;
}

export interface ForwardResult {
  status: number;
  bytesIn: number;
  bytesOut: number;
  failure?: StatusFailure;
  errorReason?: string;
}

/**
 * Streams one admitted request to the cluster: as a stream on the address's HTTP/2 session, or over
 * the HTTP/1.1 keep-alive pool when the apiserver does not speak h2. Responses (watch and logs -f
 * included) are written through as they arrive, in one write per event-loop turn (body-writer.ts), with
 * the upstream's status and headers (hop-by-hop ones aside); a client that goes away resets the upstream
 * stream (or aborts the request); a refused connection fails over to another apiserver address. Written on node:http2 and undici
 * rather than http-proxy: every header and abort path is explicit, and it costs less CPU per request.
 * `done` is called once, when the exchange is over; a callback, not a promise: this is the hot path.
 */
export function forward(req: IncomingMessage, res: ServerResponse, admitted: Admitted, opts: ForwardOptions, done: (result: ForwardResult) => void): void {
  new Exchange(req, res, admitted, opts, done).start();
}
