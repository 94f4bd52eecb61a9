import tls from 'node:tls';

/**
 * One HTTP/2 request with its header block written by hand, for what Node's h2 client will not send:
 * a name twice (it refuses arrays and repeats for Authorization, Host, Content-Type), upper-case names,
 * connection-specific fields. HPACK literals without indexing or Huffman coding, so every line goes on
 * the wire exactly as given. Only the response's `:status` is decoded (static table, or a literal with
 * plain or Huffman-coded digits), plus DATA, RST_STREAM and GOAWAY frames.
 */
export interface RawH2Reply {
  /** Undefined when no response headers came (the stream was reset or the connection went away). */
  status?: number;
  body: string;
  // Status and error bodies are read field by field.
  json: any;
  /** RST_STREAM error code for the request's stream (1 = PROTOCOL_ERROR). */
  rstCode?: number;
  goawayCode?: number;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const SETTINGS = 4;
const GOAWAY = 7;
const END_STREAM = 1;
const END_HEADERS = 4;
const ACK = 1;
/** HPACK static table entries 8-14 are `:status` with these values (RFC 7541 Appendix A). */
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
/** Huffman codes of the ten digits (RFC 7541 Appendix B): code → digit, keyed by `${bits}:${value}`. */
const HUFFMAN_DIGITS = new Map<string, string>([
  ['5:0', '0'], ['5:1', '1'], ['5:2', '2'], ['6:25', '3'], ['6:26', '4'], ['6:27', '5'], ['6:28', '6'], ['6:29', '7'], ['6:30', '8'], ['6:31', '9'],
]);

function integer(n: number, prefixBits: number, flags = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (n < max) return Buffer.from([flags | n]);
  const out = [flags | max];
  let rest = n - max;
  while (rest >= 128) {
    out.push((rest & 127) | 128);
    rest >>= 7;
  }
  out.push(rest);
  return Buffer.from(out);
}

function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0]), integer(n.length, 7), n, integer(v.length, 7), v]);
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

function readInteger(buf: Buffer, at: number, prefixBits: number): { value: number; next: number } {
  const max = (1 << prefixBits) - 1;
  let value = buf[at]! & max;
  let next = at + 1;
  if (value < max) return { value, next };
  let shift = 0;
  for (;;) {
    const b = buf[next++]!;
    value += (b & 127) << shift;
    shift += 7;
    if (!(b & 128)) return { value, next };
  }
}

function huffmanDigits(bytes: Buffer): string {
  let out = '';
  let code = 0;
  let bits = 0;
  for (const byte of bytes) {
    for (let i = 7; i >= 0; i -= 1) {
      code = (code << 1) | ((byte >> i) & 1);
      bits += 1;
      const digit = HUFFMAN_DIGITS.get(`${bits}:${code}`);
      if (digit !== undefined) {
        out += digit;
        code = 0;
        bits = 0;
      }
    }
  }
  return out;
}

/** `:status` from the first field of a response header block. */
function statusOf(block: Buffer): number | undefined {
  let at = 0;
  while (at < block.length && (block[at]! & 0xe0) === 0x20) at = readInteger(block, at, 5).next; // dynamic table size updates
  const first = block[at]!;
  if (first & 0x80) return STATIC_STATUS[readInteger(block, at, 7).value];
  const name = readInteger(block, at, first & 0x40 ? 6 : 4);
  if (STATIC_STATUS[name.value] === undefined) return undefined;
  const huffman = (block[name.next]! & 0x80) !== 0;
  const length = readInteger(block, name.next, 7);
  const raw = block.subarray(length.next, length.next + length.value);
  return Number(huffman ? huffmanDigits(raw) : raw.toString('latin1'));
}

/** Sends one request (pseudo-headers included in `lines`, in order) on a fresh TLS connection negotiating h2. */
export function rawH2Request(port: number, ca: string, lines: [string, string][], body?: string, timeoutMs = 10_000): Promise<RawH2Reply> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ca, ALPNProtocols: ['h2'] });
    const reply: RawH2Reply = { body: '', json: undefined };
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) return reject(err);
      try {
        reply.json = JSON.parse(reply.body);
      } catch {
        reply.json = undefined;
      }
      resolve(reply);
    };
    const timer = setTimeout(() => finish(new Error(`no complete h2 response within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => finish(err));
    socket.once('close', () => finish(reply.status === undefined && reply.rstCode === undefined && reply.goawayCode === undefined ? new Error('connection closed without an answer') : undefined));
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== 'h2') return finish(new Error(`ALPN chose ${String(socket.alpnProtocol)}, not h2`));
      const block = Buffer.concat(lines.map(([n, v]) => literal(n, v)));
      const frames = [PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0)), frame(HEADERS, END_HEADERS | (body === undefined ? END_STREAM : 0), 1, block)];
      if (body !== undefined) frames.push(frame(DATA, END_STREAM, 1, Buffer.from(body)));
      socket.write(Buffer.concat(frames));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9) {
        const length = buf.readUIntBE(0, 3);
        if (buf.length < 9 + length) return;
        const [type, flags] = [buf[3]!, buf[4]!];
        const stream = buf.readUInt32BE(5) & 0x7fffffff;
        const payload = buf.subarray(9, 9 + length);
        buf = buf.subarray(9 + length);
        if (type === SETTINGS && !(flags & ACK)) socket.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
        if (type === GOAWAY) {
          reply.goawayCode = payload.readUInt32BE(4);
          return finish();
        }
        if (stream !== 1) continue;
        if (type === RST_STREAM) {
          reply.rstCode = payload.readUInt32BE(0);
          return finish();
        }
        if (type === HEADERS) reply.status ??= statusOf(payload);
        if (type === DATA) reply.body += payload.toString('utf8');
        if ((type === HEADERS || type === DATA) && flags & END_STREAM) return finish();
      }
    });
  });
}
