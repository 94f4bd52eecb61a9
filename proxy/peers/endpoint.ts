import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Mount, RequestInfo } from '../../src/http/types';
import type { Logger } from '../../src/log';
import type { DriverTunnels } from '../tunnel/driver-tunnels';
import type { TunnelRegistry } from '../tunnel/registry';
import type { PeerMetrics } from './metrics';
import { parseDial, PEER_DIAL_PATH, PEER_UPGRADE, verifyDial, type DialRequest } from './protocol';

/** What this end needs of a tunnel session, agent's or driver's. */
export interface Dialable {
  params: { hostPort: string };
  dial(hostPort: string, timeoutMs: number): Duplex;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

function refuse(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * `GET /bcsapi/v1/peer/dial` on the replica holding a tunnel: another replica, signed with the peering
 * secret, asks for a connection through one of this process's agent or driver tunnels, to that tunnel's
 * own reported address and no other. Who the caller is and what it may do was decided on the replica it
 * reached; this end only checks that the request comes from a peer and pipes bytes.
 */
export class PeerDialEndpoint {
  constructor(
    private readonly secret: string,
    private readonly registry: TunnelRegistry,
    private readonly drivers: DriverTunnels,
    private readonly connectTimeoutMs: number,
    private readonly metrics: PeerMetrics,
    private readonly logger: Logger,
    /** Tunnels other workers of this primary hold: a peer's relay may reach any worker, as they share the published port. */
    private readonly elsewhere?: (r: DialRequest) => Dialable[],
  ) {}

  mount(): Mount {
    return {
      prefix: PEER_DIAL_PATH,
      handler: (_req, res) => {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(`this path takes an upgrade (${PEER_UPGRADE}) from another bcs-api replica\n`);
      },
      upgrade: async (req, socket, head, info) => this.handle(req, socket, head, info),
    };
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer, info: RequestInfo): void {
    socket.on('error', () => undefined);
    const fail = (status: number, message: string): void => {
      this.metrics.served(String(status));
      refuse(socket, status, message);
    };
    if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== PEER_UPGRADE) return fail(400, `a relay is a GET with Upgrade: ${PEER_UPGRADE}`);
    const r = parseDial(req.headers);
    if ('malformed' in r) return fail(400, r.malformed);
    if (!verifyDial(this.secret, req.headers, r)) {
      // The signature itself is never logged: it is as good as the request it signs for a minute.
      this.logger.warn({ from: info.remoteAddress, clusterId: r.clusterId, module: r.module, requestId: info.requestId }, 'peer relay refused: missing, stale or wrong signature (peering.secret differs between replicas, or their clocks are more than a minute apart)');
      return fail(401, 'peer signature refused');
    }
    const found = this.sessionFor(r);
    if (found === 'other-target') return fail(403, `the ${r.module} tunnel of ${r.clusterId} here reaches another address`);
    if (!found) return fail(404, `no ${r.module} tunnel of ${r.clusterId} here`);
    let conn: Duplex;
    try {
      conn = found.dial(r.target, this.connectTimeoutMs);
    } catch (err) {
      return fail(503, `tunnel cannot open a connection: ${(err as Error).message}`);
    }
    this.metrics.served('101');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${PEER_UPGRADE}\r\n\r\n`);
    (socket as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    if (head.length) conn.write(head);
    const closeBoth = (): void => {
      socket.destroy();
      conn.destroy();
    };
    socket.on('close', closeBoth);
    conn.on('close', closeBoth);
    conn.on('error', closeBoth);
    socket.pipe(conn);
    conn.pipe(socket);
  }

  /** The newest open tunnel of the cluster and module whose reported address is the target. */
  private sessionFor(r: DialRequest): Dialable | 'other-target' | undefined {
    const here: Dialable[] =
      r.module === 'kube-agent' ? this.registry.sessionsOf(r.clusterId).filter((s) => s.isOpen) : this.drivers.live(r.module, r.clusterId).map((t) => t.session);
    const open = here.length ? here : (this.elsewhere?.(r) ?? []);
    if (!open.length) return undefined;
    return [...open].reverse().find((s) => s.params.hostPort === r.target) ?? 'other-target';
  }
}
