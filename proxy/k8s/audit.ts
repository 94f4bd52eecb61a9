import type { IncomingMessage, ServerResponse } from 'node:http';
import pino from 'pino';
import { pathOf } from '../../src/http/request-path';
import type { RequestInfo } from '../../src/http/types';
import { SERVICE_NAME, type Logger } from '../../src/log';
import type { ProxyPrincipal } from '../shared/principal-cache';

/** One line per proxied request; no token, credential or body ever goes in it. */
export interface AuditEvent {
  requestId: string;
  cluster?: string;
  userId?: number;
  user?: string;
  tokenId?: number;
  impersonated?: string;
  verb: string;
  method: string;
  /** Path without the query string. */
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  upgrade?: string;
  /** The host a request was relayed to when the caller chose it (the web console's `host_ip`). */
  target?: string;
  sourceIp: string;
  error?: string;
}

const INFO = 30;

/** The event of a `/bcsapi` passthrough request, once its response is done; sizes as the Content-Length headers give them. */
export function passthroughAudit(req: IncomingMessage, res: ServerResponse, info: RequestInfo, started: number, cluster?: string, principal?: ProxyPrincipal, error?: string): AuditEvent {
  const method = req.method ?? 'GET';
  return {
    requestId: info.requestId,
    cluster,
    userId: principal?.userId,
    user: principal?.userName,
    tokenId: principal?.tokenId,
    verb: method.toLowerCase(),
    method,
    path: pathOf(req.url ?? ''),
    status: res.statusCode,
    bytesIn: Number(req.headers['content-length'] ?? 0),
    bytesOut: Number(res.getHeader('content-length') ?? 0),
    durationMs: Date.now() - started,
    sourceIp: info.remoteAddress,
    error,
  };
}

/** A batch is handed to the destination at once when it grows past this (bytes, roughly: UTF-16 units). */
const BATCH_CHARS = 16 * 1024;

/**
 * The audit trail: one JSON line per proxied request on the main logger's destination, in the shape
 * pino gives every other line (`level`, `time`, `service`, `msg`), written without going through a
 * logger. A logger's per-line work (its redaction pass, child bindings, serializers, a new timestamp
 * string) was the costliest part of a proxied request after the sockets; audit events are built field
 * by field from values that are never secret, so there is nothing for it to do. Lines of one event-loop
 * turn go to the destination together, at the end of the turn: the destination's per-write
 * bookkeeping (it measures what it holds on every write) then runs once per batch, not once per request.
 */
export class AuditLog {
  private readonly stream: pino.DestinationStream;
  private lastMs = -1;
  private lastTime = '';
  private pending = '';
  private scheduled = false;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(private readonly main: Logger) {
    this.stream = (main as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
  }

  write(event: AuditEvent): void {
    // Read on each line, not once: the main logger's level may be changed while serving.
    if (this.main.levelVal > INFO) return;
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastTime = new Date(now).toISOString();
    }
    this.pending += `{"level":${INFO},"time":"${this.lastTime}","service":"${SERVICE_NAME}","audit":${JSON.stringify(event)},"msg":"proxied request"}\n`;
    if (this.pending.length >= BATCH_CHARS) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  /** Hands what is pending to the destination now (also on shutdown, before the destination is flushed). */
  flush(): void {
    if (!this.pending) return;
    const lines = this.pending;
    this.pending = '';
    this.stream.write(lines);
  }
}
