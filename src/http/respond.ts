import type { ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Reads a request body up to `limit` bytes; rejects with `tooLarge` beyond it. */
export async function readBody(req: NodeJS.ReadableStream, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error(`request body exceeds ${limit} bytes`), { tooLarge: true });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
