import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** The BCS envelope of an error, as the HTTP routes send it (proxy/mesos/envelope.ts). */
export function envelopeBody(code: number, message: string): string {
  return JSON.stringify({ result: false, code, message: `(bcs-api):${message}`, data: null });
}

/** An upgrade refused before the handshake: a complete HTTP response on the raw socket, then close. */
export function refuseUpgrade(socket: Duplex, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  const body = envelopeBody(code, message);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`);
}
