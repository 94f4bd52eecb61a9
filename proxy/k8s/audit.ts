import pino from 'pino';
import type { Logger } from '../../src/log';

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
  sourceIp: string;
  error?: string;
}

/**
 * The audit trail writes to the main logger's destination but skips its redaction pass: audit events
 * are built field by field from non-secret values, and redaction was the costliest part of a line.
 */
export function createAuditLogger(main: Logger): Logger {
  const stream = (main as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
  return pino({ level: main.level, base: { service: 'bcs-api' }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}

export function writeAudit(logger: Logger, event: AuditEvent): void {
  logger.info({ audit: event }, 'proxied request');
}
