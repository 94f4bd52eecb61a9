/**
 * The reverse tunnel's wire format, as the original's websocketDialer (a remotedialer fork) writes it, so
 * the original Go agent and drivers can connect: one binary WebSocket message per tunnel message, a header
 * of Go signed varints (`binary.PutVarint`: zig-zag, then base-128) — id, connection id, message type, and
 * for Data and Connect a deadline in milliseconds — followed by the payload. Shared by the gateway's tunnel
 * server and the agent, which is why it lives in src/.
 */

export const MessageType = {
  Data: 1,
  Connect: 2,
  Error: 3,
  AddClient: 4,
  RemoveClient: 5,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export interface TunnelMessage {
  id: number;
  connId: number;
  type: MessageType;
  /** Milliseconds; carried by Data and Connect only (0 elsewhere). */
  deadline: number;
  payload: Buffer;
}

/** Connect, Error and client-key payloads are read up to this many bytes by the original. */
export const MAX_SHORT_PAYLOAD = 100;

const hasDeadline = (type: number): boolean => type === MessageType.Data || type === MessageType.Connect;

/** Bytes Go's PutVarint writes for `n` (safe integers only; ids and deadlines stay far below 2^53). */
function varintLength(n: number): number {
  let u = n >= 0 ? n * 2 : -n * 2 - 1;
  let len = 1;
  while (u >= 128) {
    u = Math.floor(u / 128);
    len += 1;
  }
  return len;
}

function putVarint(buf: Buffer, offset: number, n: number): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`varint out of range: ${n}`);
  // Zig-zag without 32-bit bit operations: JavaScript numbers hold 53 bits.
  let u = n >= 0 ? n * 2 : -n * 2 - 1;
  while (u >= 128) {
    buf[offset++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[offset++] = u;
  return offset;
}

/** Reads one signed varint; throws on a truncated or over-long one (Go refuses more than 10 bytes). */
function getVarint(buf: Buffer, offset: number): { value: number; next: number } {
  let u = 0;
  let scale = 1;
  for (let i = 0; i < 10; i += 1) {
    if (offset + i >= buf.length) throw new TunnelWireError('truncated varint in tunnel message header');
    const b = buf[offset + i]!;
    u += (b & 0x7f) * scale;
    if (!Number.isSafeInteger(u)) throw new TunnelWireError('varint in tunnel message header is out of range');
    if (b < 0x80) {
      const value = u % 2 === 0 ? u / 2 : -(u + 1) / 2;
      return { value, next: offset + i + 1 };
    }
    scale *= 128;
  }
  throw new TunnelWireError('varint in tunnel message header is too long');
}

/** A frame that cannot be a tunnel message: the session that sent it is closed. */
export class TunnelWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TunnelWireError';
  }
}

/** Longest header a message can have: four varints of safe integers, at most 8 bytes each. */
export const MAX_HEADER_BYTES = 32;

/** Bytes `encodeMessage` writes for `m`. */
export function encodedLength(m: { id: number; connId: number; type: MessageType; deadline?: number }, payloadLength: number): number {
  return varintLength(m.id) + varintLength(m.connId) + varintLength(m.type) + (hasDeadline(m.type) ? varintLength(m.deadline ?? 0) : 0) + payloadLength;
}

/**
 * Writes the message at the start of `target` (at least `encodedLength` bytes) and returns its length:
 * a sender that reuses its buffers encodes a read straight from where it landed, with no allocation.
 */
export function encodeMessageInto(target: Buffer, m: Omit<TunnelMessage, 'deadline'> & { deadline?: number }): number {
  let at = putVarint(target, 0, m.id);
  at = putVarint(target, at, m.connId);
  at = putVarint(target, at, m.type);
  if (hasDeadline(m.type)) at = putVarint(target, at, m.deadline ?? 0);
  return at + m.payload.copy(target, at);
}

/**
 * Writes the header of a message whose payload already sits in `target` from `payloadAt` (room for
 * `MAX_HEADER_BYTES` left before it), ending right where the payload starts; returns where the message
 * starts. A sender that gathers several reads into one frame encodes it without moving the payload.
 */
export function encodeHeaderBefore(target: Buffer, payloadAt: number, m: { id: number; connId: number; type: MessageType; deadline?: number }): number {
  const start = payloadAt - encodedLength(m, 0);
  if (start < 0) throw new RangeError('no room for the tunnel message header');
  let at = putVarint(target, start, m.id);
  at = putVarint(target, at, m.connId);
  at = putVarint(target, at, m.type);
  if (hasDeadline(m.type)) putVarint(target, at, m.deadline ?? 0);
  return start;
}

export function encodeMessage(m: Omit<TunnelMessage, 'deadline'> & { deadline?: number }): Buffer {
  const buf = Buffer.allocUnsafe(encodedLength(m, m.payload.length));
  encodeMessageInto(buf, m);
  return buf;
}

/** Decodes one binary WebSocket message; the payload is a view into `frame`, not a copy. */
export function decodeMessage(frame: Buffer): TunnelMessage {
  const id = getVarint(frame, 0);
  const connId = getVarint(frame, id.next);
  const type = getVarint(frame, connId.next);
  if (type.value < MessageType.Data || type.value > MessageType.RemoveClient) throw new TunnelWireError(`unknown tunnel message type ${type.value}`);
  let at = type.next;
  let deadline = 0;
  if (hasDeadline(type.value)) {
    const d = getVarint(frame, at);
    deadline = d.value;
    at = d.next;
  }
  return { id: id.value, connId: connId.value, type: type.value as MessageType, deadline, payload: frame.subarray(at) };
}

/** The original's Connect: the agent dials `host:port` over TCP and relays the bytes as they are. */
export const CONNECT_TCP = 'tcp';
/**
 * Our addition, sent only to an agent that announced `agentTls` in its params: the agent opens TLS to
 * `host:port` itself (verified against its in-cluster CA), and the connection carries the plaintext.
 * The original agent's ConnectAuthorizer allows only `tcp` (and `unix` for the docker socket), so it
 * answers this form with an Error instead of dialling something else.
 */
export const CONNECT_AGENT_TLS = 'tls';

/** `Connect` payload: `<proto>/<address>`, e.g. `tcp/10.96.0.1:443`. */
export function connectPayload(proto: string, address: string): Buffer {
  return Buffer.from(`${proto}/${address}`, 'utf8');
}

export function parseConnectPayload(payload: Buffer): { proto: string; address: string } {
  const text = payload.subarray(0, MAX_SHORT_PAYLOAD).toString('utf8');
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) throw new TunnelWireError('Connect payload must be "<proto>/<address>"');
  return { proto: text.slice(0, slash), address: text.slice(slash + 1) };
}

/** `Error` payload: the reason, `EOF` for a clean close; the original reads at most 100 bytes. */
export function errorPayload(reason: string): Buffer {
  return Buffer.from(reason, 'utf8').subarray(0, MAX_SHORT_PAYLOAD);
}

export const EOF_REASON = 'EOF';
