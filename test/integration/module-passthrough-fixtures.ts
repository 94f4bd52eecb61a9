import http from 'node:http';

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
