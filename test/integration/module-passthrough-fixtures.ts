import http from 'node:http';
import type { Writable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One request with exactly this path and these headers: node:http with a path option sends dot segments
 * as written (a URL would resolve them) and `Connection` and the like as given.
 */
export function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Reply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    // A length always: Node's client frames a DELETE body with nothing, and the server reads it as the next request.
    const framed = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: hostname, port, path, method, headers: framed }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The original's envelope without its message (asserted apart). */
export function envelopeOf(r: Reply): { result: unknown; code: unknown; data: unknown } {
  const { result, code, data } = JSON.parse(r.body) as Record<string, unknown>;
  return { result, code, data };
}

/** Writes `size` bytes of `chunk` copies, waiting for `drain` whenever the stream asks to, then ends it. */
export function pump(out: Writable, size: number, chunk: Buffer): void {
  let sent = 0;
  const more = (): void => {
    while (sent < size) {
      sent += chunk.length;
      if (!out.write(chunk)) return void out.once('drain', more);
    }
    out.end();
  };
  more();
}

/**
 * A full garbage collection in this process (the runner starts Node without --expose-gc): readings taken
 * right after it count the buffers still held, not streamed chunks V8 has yet to free.
 */
export function fullGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
