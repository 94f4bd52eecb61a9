import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Admitted } from './pipeline';
import { failures, writeStatusToSocket, type StatusFailure } from './status';
import { upstreamErrorReason } from '../shared/metrics';

/** kubectl's protocols: WebSocket (exec/attach/cp v4/v5, port-forward over WS) and SPDY/3.1 (fallback, older clients). */
const ALLOWED_UPGRADES = new Map([
  ['websocket', 'websocket'],
  ['spdy/3.1', 'SPDY/3.1'],
]);

/** Refuses upgrade shapes used for smuggling before any work is done; undefined when acceptable. */
export function checkUpgradeRequest(req: IncomingMessage, upgrade: string | undefined): StatusFailure | undefined {
  const value = (upgrade ?? '').trim().toLowerCase();
  if (!ALLOWED_UPGRADES.has(value)) return failures.badRequest(`upgrade to "${upgrade ?? ''}" is not supported; only websocket and SPDY/3.1`);
  const length = Number(req.headers['content-length'] ?? 0);
  if (req.headers['transfer-encoding'] || length > 0) return failures.badRequest('upgrade requests must not carry a body');
  return undefined;
}

export interface UpgradeResult {
  status: number;
  bytesIn: number;
  bytesOut: number;
  errorReason?: string;
}

/** The upgrade request's head: request line, Host and the upgrade fields, then the admitted fields in their order (the gateway's own first). */
export function serializeHead(method: string, path: string, host: string, upgrade: string, headers: OutgoingHttpHeaders): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, 'Connection: Upgrade', `Upgrade: ${upgrade}`];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === 'host' || name === 'connection' || name === 'upgrade' || name === 'content-length') continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      const text = String(v);
      // Header injection guard: a value can never start a new line.
      if (/[\r\n]/.test(text)) continue;
      lines.push(`${name}: ${text}`);
    }
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Relays one upgrade (exec, attach, cp, port-forward) over a fresh HTTP/1.1 TLS connection of its own,
 * never a pooled one. Only a 101 answer opens the two-way byte pipe; any other answer is relayed as is
 * and both connections are closed, so the authenticated upstream connection can never carry a second,
 * unchecked request (the CVE-2018-1002105 lesson).
 */
export function relayUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  admitted: Admitted,
  opts: { connectTimeoutMs: number; responseTimeoutMs: number },
): Promise<UpgradeResult> {
  const upstream = admitted.cluster.upstream;
  const upgrade = ALLOWED_UPGRADES.get((admitted.upgrade ?? '').trim().toLowerCase())!;
  let bytesIn = head.length;
  let bytesOut = 0;
  const tried = new Set<string>();

  return new Promise<UpgradeResult>((resolve) => {
    let settled = false;
    const finish = (r: Omit<UpgradeResult, 'bytesIn' | 'bytesOut'>): void => {
      if (settled) return;
      settled = true;
      resolve({ ...r, bytesIn, bytesOut });
    };
    client.on('error', () => undefined);
    // A client that leaves before the answer takes the upstream connection with it, or a 101 would open an
    // exec session for no one. Leaving may show only as 'end': upgrade sockets are half-open, no 'close' follows.
    let upstreamSocket: Duplex | undefined;
    const leave = (): void => {
      upstreamSocket?.destroy();
      client.destroy();
      finish({ status: 499 });
    };
    client.once('close', leave);
    client.once('end', leave);
    if (client.destroyed || client.readableEnded) return leave();

    const attempt = (): void => {
      const target = upstream.pick(tried);
      if (!target) {
        writeStatusToSocket(client, failures.unavailable(`error trying to reach cluster ${admitted.cluster.id}: no apiserver address accepts connections`));
        finish({ status: 503, errorReason: 'refused' });
        return;
      }
      tried.add(target.href);
      const { socket, ready } = upstream.connect(target);
      upstreamSocket = socket;
      let connected = false;
      let responded = false;
      const timer = setTimeout(() => {
        socket.destroy();
        if (!responded) {
          writeStatusToSocket(client, connected ? failures.timeout('Timeout: the apiserver did not answer the upgrade in time') : failures.unavailable('error trying to reach service: connect timeout'));
          finish({ status: connected ? 504 : 503, errorReason: 'timeout' });
        }
      }, opts.connectTimeoutMs + opts.responseTimeoutMs);

      socket.once(ready, () => {
        connected = true;
        // Only the upgrade request itself: bytes the client sent after it (`head`) go upstream once the
        // apiserver has switched protocols, never before, so a pipelined request cannot ride this connection.
        socket.write(serializeHead(req.method ?? 'GET', admitted.upstreamPath, target.host, upgrade, admitted.headers));
      });

      let buffered = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        buffered = Buffer.concat([buffered, chunk]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buffered.length > 64 * 1024) socket.destroy(new Error('upstream response head too large'));
          return;
        }
        responded = true;
        clearTimeout(timer);
        socket.off('data', onData);
        const headText = buffered.subarray(0, end).toString('latin1');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1] ?? 0);
        bytesOut += buffered.length;
        client.write(buffered);
        if (status === 101) {
          client.off('end', leave);
          socket.setTimeout?.(0);
          socket.setKeepAlive?.(true, 30_000);
          socket.on('data', (c: Buffer) => (bytesOut += c.length));
          client.on('data', (c: Buffer) => (bytesIn += c.length));
          if (head.length) socket.write(head);
          socket.pipe(client);
          client.pipe(socket);
          const close = (): void => {
            socket.destroy();
            client.destroy();
            finish({ status });
          };
          socket.once('close', close);
          client.once('close', close);
          socket.on('error', () => close());
          return;
        }
        // Not upgraded: pass the rest of the answer through, then close both sides no matter what
        // the upstream said about keep-alive.
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headText)?.[1] ?? NaN);
        let remaining = Number.isFinite(length) ? length - (buffered.length - end - 4) : Infinity;
        const done = (): void => {
          socket.destroy();
          client.end();
          finish({ status });
        };
        if (remaining <= 0) return done();
        const deadline = setTimeout(done, 10_000);
        socket.on('data', (c: Buffer) => {
          bytesOut += c.length;
          client.write(c);
          remaining -= c.length;
          if (remaining <= 0) {
            clearTimeout(deadline);
            done();
          }
        });
        socket.once('end', () => {
          clearTimeout(deadline);
          done();
        });
      };
      socket.on('data', onData);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (responded) return;
        if (!connected && (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH')) {
          upstream.markDown(target);
          if (tried.size < upstream.addressCount) return attempt();
        }
        const reason = upstreamErrorReason(err);
        writeStatusToSocket(client, failures.unavailable(`error trying to reach service: ${reason === 'tls' ? 'TLS verification of the cluster apiserver failed' : reason}`));
        finish({ status: 503, errorReason: reason });
      });
      socket.once('close', () => {
        clearTimeout(timer);
        if (!responded && !settled) {
          writeStatusToSocket(client, failures.unavailable('error trying to reach service: the apiserver closed the connection'));
          finish({ status: 503, errorReason: 'reset' });
        }
      });
    };
    attempt();
  });
}
