import { MAX_HEADER_BYTES } from '../tunnel/wire';

/** TLS's largest record: the outer TLS cuts every websocket message into records of at most this. */
const TLS_RECORD_BYTES = 16 * 1024;
/** A client's websocket frame header for a payload under 64 KiB: 2 bytes, a 16-bit length, the mask key. */
const WS_HEADER_BYTES = 2 + 2 + 4;

/**
 * Largest read from an apiserver socket, and so the largest Data payload the agent sends: libuv's own
 * read size (64 KiB) less the tunnel and websocket headers, so a full frame fills exactly four TLS
 * records. A frame of 64 KiB of payload took a fifth record of a few bytes, and the gateway handled
 * that fifth piece like any other: one more decryption, buffer and stream event per frame.
 */
export const READ_BYTES = 4 * TLS_RECORD_BYTES - WS_HEADER_BYTES - MAX_HEADER_BYTES;
/** Frames at least this long reuse pooled buffers; shorter ones (watch events, responses) are allocated to size. */
export const POOLED_FROM = 16 * 1024;
/** Pooled frame buffers kept for reuse: the websocket's high-water mark's worth of full frames. */
export const POOL_SIZE = 16;
export const FRAME_BYTES = READ_BYTES + MAX_HEADER_BYTES;

/**
 * Buffers of the apiserver → gateway direction, which carries nearly every byte (logs, watches,
 * lists). Every apiserver socket reads into one shared scratch buffer (`net` `onread`), from which the
 * callback copies the bytes into their frame at once, so the read needs no buffer of its own and an
 * idle socket holds none. Frames of full reads come from a small pool and go back to it once the
 * websocket has handed them to TLS. Without this each 64 KiB read cost two fresh 64 KiB buffers (the
 * read's and the frame's), and collecting them was a third of the agent's CPU in `bench:tunnel`.
 */
export class FrameBuffers {
  /** Where every socket's reads land; valid only inside the read callback. */
  readonly scratch = Buffer.allocUnsafeSlow(READ_BYTES);
  private readonly free: Buffer[] = [];

  /** A buffer of at least `length` bytes for one frame. */
  take(length: number): Buffer {
    if (length < POOLED_FROM || length > FRAME_BYTES) return Buffer.allocUnsafe(length);
    return this.free.pop() ?? Buffer.allocUnsafeSlow(FRAME_BYTES);
  }

  /** The websocket is done with `buf` (its send callback ran without error): a pooled one is reused. */
  release(buf: Buffer): void {
    if (buf.length === FRAME_BYTES && this.free.length < POOL_SIZE) this.free.push(buf);
  }

  get pooled(): number {
    return this.free.length;
  }
}
