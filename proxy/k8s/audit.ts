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

export function writeAudit(logger: Logger, event: AuditEvent): void {
  logger.info({ audit: event }, 'proxied request');
}
