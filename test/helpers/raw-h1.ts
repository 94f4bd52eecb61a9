import net from 'node:net';
import tls from 'node:tls';

/** Header lines as [name, value] pairs, written exactly as given (case, order, duplicates). */
export type Lines = [string, string][];

export interface RawH1Response {
  status: number;
  /** Lower-case name → every value, in order. */
  headers: Record<string, string[]>;
  text: string;
  // Status and error bodies are read field by field.
  json: any;
  /** The server closed the connection after this response (within the wait given). */
  closed: boolean;
}

/** An HTTP/1.1 request as text: exactly the lines given, nothing added. */
export function requestText(method: string, target: string, lines: Lines, body = ''): string {
  return `${method} ${target} HTTP/1.1\r\n${lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n${body}`;
}

/** One response at the start of `buf` (Content-Length, chunked, or none for 101/204), or undefined while incomplete. */
function parse(buf: Buffer): Omit<RawH1Response, 'closed'> | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...rows] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: Record<string, string[]> = {};
  for (const row of rows) {
    const i = row.indexOf(':');
    (headers[row.slice(0, i).trim().toLowerCase()] ??= []).push(row.slice(i + 1).trim());
  }
  const rest = buf.subarray(end + 4);
  let body: Buffer;
  if (status === 101 || status === 204 || status === 304) body = Buffer.alloc(0);
  else if (headers['content-length']) {
    const n = Number(headers['content-length'][0]);
    if (rest.length < n) return undefined;
    body = rest.subarray(0, n);
  } else if ((headers['transfer-encoding']?.[0] ?? '').toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16);
      if (size === 0) break;
      if (rest.length < eol + 2 + size + 2) return undefined;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else body = rest;
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers, text, json };
}

export interface RawTarget {
  port: number;
  /** Connect with TLS (ALPN http/1.1), trusting this CA. */
  tlsCa?: string;
}

/**
 * Sends `data` on a fresh connection and resolves with the first complete response, then waits up to
 * `closeWaitMs` for the server to close the connection (reported as `closed`); the socket is destroyed after.
 */
export function rawExchange(target: RawTarget, data: string, opts: { timeoutMs?: number; closeWaitMs?: number } = {}): Promise<RawH1Response> {
  const socket: net.Socket = target.tlsCa
    ? tls.connect({ port: target.port, host: '127.0.0.1', ca: target.tlsCa, ALPNProtocols: ['http/1.1'] })
    : net.connect(target.port, '127.0.0.1');
  return new Promise<RawH1Response>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let parsed: Omit<RawH1Response, 'closed'> | undefined;
    let settled = false;
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(closeTimer);
      socket.destroy();
      if (parsed) resolve({ ...parsed, closed });
      else reject(new Error(`no complete response: ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
    };
    let closeTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => done(false), opts.timeoutMs ?? 10_000);
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (parsed) return;
      parsed = parse(buf);
      if (parsed) closeTimer = setTimeout(() => done(false), opts.closeWaitMs ?? 2_000);
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      parsed ??= parse(buf);
      done(true);
    });
    socket.once(target.tlsCa ? 'secureConnect' : 'connect', () => socket.write(data));
  });
}
