import type { ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';

/**
 * How much of a response body may wait in the gateway for a client before the upstream is paused: the
 * most a slow reader makes the gateway hold (besides the kernel's socket buffers).
 */
export const BODY_HIGH_WATER = 256 * 1024;

/**
 * Writes a response body to the client in batches: the chunks that arrive in one event-loop turn leave
 * in one write. Upstream TLS hands its data over one 16 KiB record at a time, each in a callback of its
 * own, and Node's response flushes at the end of each (a writev of one chunk and a chunk header per
 * record); corked until the turn is over, they go out in one writev.
 * Backpressure counts bytes rather than trusting `write()`'s answer, which says "full" past 16 KiB
 * (the socket's default high-water mark) and would pause the upstream every record or two.
 */
export class BodyWriter {
  private corked: Writable | undefined;
  private readonly uncork = (): void => {
    const w = this.corked;
    this.corked = undefined;
    w?.uncork();
  };

  /** The first chunk goes out as Node sends it: a short response (one chunk, then the end) pays nothing here. */
  private first = true;

  constructor(private readonly res: ServerResponse) {}

  /** False when the client is behind by BODY_HIGH_WATER or more: wait for the response's 'drain'. */
  write(chunk: Buffer): boolean {
    const { res } = this;
    if (this.first) this.first = false;
    else if (this.corked === undefined) {
      // The HTTP/2 compatibility response writes to its stream; `socket` would be the whole session's.
      const target = ('stream' in res ? (res as unknown as { stream: Writable }).stream : res.socket) ?? undefined;
      if (target && !target.writableCorked) {
        target.cork();
        this.corked = target;
        setImmediate(this.uncork);
      }
    }
    res.write(chunk);
    return res.writableLength < BODY_HIGH_WATER;
  }
}
