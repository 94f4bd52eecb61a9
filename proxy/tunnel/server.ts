import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Mount, RequestInfo } from '../../src/http/types';
import type { Runtime } from '../../src/runtime';
import type { ChangeKind } from '../../src/store/entities';
import { ForbiddenError, UnauthenticatedError } from '../../src/errors';
import {
  authorizeTunnel,
  pruneStaleTunnelCredentials,
  refreshTunnelHeartbeats,
  registerTokenDigest,
  removeTunnelCredential,
  storeTunnelCredential,
  TUNNEL_HEARTBEAT_MS,
  unauthorizedTunnels,
} from '../../src/domain/tunnel-credentials';
import { DriverTunnels, type DriverSession } from './driver-tunnels';
import { parseHandshake, type DriverModuleName, type HandshakeRefusal } from './handshake';
import type { TunnelMetrics } from './metrics';
import type { TunnelRegistry } from './registry';
import { DEFAULT_LIMITS, TunnelSession, type DriverParams, type SessionLimits } from './session';

export const TUNNEL_CONNECT_PATH = '/bcsapi/v1/websocket/connect';

/** Tunnels one cluster may hold open in one process per module (agent or driver replicas, and reconnects before a dead tunnel is noticed). */
export const MAX_TUNNELS_PER_CLUSTER = 8;

/** Largest websocket message accepted from an agent: a 1 MiB Data payload plus its header. */
export const MAX_TUNNEL_MESSAGE = 1024 * 1024 + 64;

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** A refusal with a real status before any upgrade (the original wrote its errors under a 200). */
function refuse(socket: Duplex, r: HandshakeRefusal | { status: number; message: string }): void {
  const body = `${r.message}\n`;
  socket.end(
    `HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** What ws itself would refuse, checked before the register token is looked up. */
function websocketShape(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return 'a tunnel is opened with GET';
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'a tunnel is a websocket upgrade (Upgrade: websocket)';
  if (!/^[+/0-9A-Za-z]{22}==$/.test(String(req.headers['sec-websocket-key'] ?? ''))) return 'missing or invalid Sec-WebSocket-Key';
  const version = String(req.headers['sec-websocket-version'] ?? '');
  if (version !== '13' && version !== '8') return 'unsupported Sec-WebSocket-Version';
  return undefined;
}

/**
 * `GET /bcsapi/v1/websocket/connect`: a cluster's kube agent opens a reverse tunnel, authorised by the
 * cluster's register token, and the gateway then reaches the cluster's apiserver through it. The
 * credential the agent brings is stored sealed while the tunnel lives; revoking or rotating the
 * register token, or deleting the cluster, closes the cluster's tunnels. Mesos and k8s drivers open
 * tunnels the same way, and the driver passthrough reaches them through those (`DriverTunnels`): they
 * bring no credential, so nothing of theirs is stored, and they are served by the process holding them.
 */
export class TunnelServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_TUNNEL_MESSAGE, perMessageDeflate: false, clientTracking: false });
  /** Digest of the register token each session was opened with, for revocation. */
  private readonly tokenDigests = new WeakMap<TunnelSession | DriverSession, string>();
  private readonly rechecks: NodeJS.Timeout;
  private readonly heartbeats: NodeJS.Timeout;
  /** This process, in the rows it stores: a crashed process's rows are told apart by their stale heartbeat. */
  readonly ownerId = crypto.randomBytes(16).toString('hex');
  private stopping = false;

  constructor(
    private readonly rt: Runtime,
    private readonly registry: TunnelRegistry,
    private readonly metrics: TunnelMetrics,
    private readonly limits: SessionLimits = DEFAULT_LIMITS,
    /** How often every tunnel's register token is checked again (an expiring token ends its tunnels). */
    recheckMs = 60_000,
    heartbeatMs = TUNNEL_HEARTBEAT_MS,
    /** Driver tunnels, shared with the driver passthrough (the composition root passes the one it uses). */
    readonly drivers: DriverTunnels = new DriverTunnels({}, 15_000),
  ) {
    this.rechecks = setInterval(() => void this.recheck(), recheckMs);
    this.rechecks.unref();
    this.heartbeats = setInterval(() => void this.heartbeat(), heartbeatMs);
    this.heartbeats.unref();
    // Rows left by a process that crashed (this one before a restart, or a replica) go at once.
    void this.heartbeat();
  }

  mount(): Mount {
    return {
      prefix: TUNNEL_CONNECT_PATH,
      handler: (_req, res) => {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('this path takes a websocket upgrade from a kube agent\n');
      },
      upgrade: (req, socket, head, info) => this.handleUpgrade(req, socket, head, info),
    };
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, info: RequestInfo): Promise<void> {
    socket.on('error', () => undefined);
    const fail = (r: { status: number; message: string }): void => {
      this.metrics.refused(r.status);
      refuse(socket, r);
    };
    const shape = websocketShape(req);
    if (shape) return fail({ status: 400, message: shape });
    const parsed = parseHandshake(req);
    if ('status' in parsed) return fail(parsed);
    let clusterId: string;
    try {
      clusterId = await authorizeTunnel(this.rt.context(), parsed.clusterId, parsed.registerToken, parsed.module);
    } catch (err) {
      if (err instanceof UnauthenticatedError) return fail({ status: 401, message: 'failed authentication' });
      if (err instanceof ForbiddenError) return fail({ status: 403, message: err.message });
      // An outage is logged once by the store health; anything else is worth a line of its own.
      if (!this.rt.storeHealth.report(err)) this.rt.logger.error({ err, requestId: info.requestId }, 'cannot check an agent tunnel handshake');
      return fail({ status: 503, message: 'the gateway cannot check this tunnel right now (store unavailable); retry shortly' });
    }
    if (socket.destroyed) return;
    const open = parsed.module === 'kube-agent' ? this.registry.sessionsOf(clusterId).filter((s) => s.isOpen) : this.drivers.sessionsOf(parsed.module, clusterId);
    if (open.length >= MAX_TUNNELS_PER_CLUSTER) {
      return fail({ status: 429, message: `cluster already has ${MAX_TUNNELS_PER_CLUSTER} ${parsed.module} tunnels open to this gateway; retry later` });
    }
    const digest = registerTokenDigest(parsed.registerToken);
    if (parsed.module !== 'kube-agent') {
      const { module, params } = parsed;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const session = new TunnelSession<DriverParams>(clusterId, params, info.remoteAddress, ws, this.limits, this.metrics, this.rt.logger, (s, reason) => this.driverClosed(s, reason));
        this.tokenDigests.set(session, digest);
        this.registerDriver(module, session);
      });
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new TunnelSession(clusterId, parsed.params, info.remoteAddress, ws, this.limits, this.metrics, this.rt.logger, (s, reason) => this.closed(s, reason));
      this.tokenDigests.set(session, digest);
      void this.register(session);
    });
  }

  /**
   * Routes the cluster through the tunnel at once (the agent may be asked to dial as soon as it sees the
   * 101), then stores the credential it brought; a tunnel whose credential cannot be stored is closed.
   */
  private async register(session: TunnelSession): Promise<void> {
    const { clusterId, params } = session;
    this.metrics.sessions += 1;
    this.metrics.connected();
    this.registry.add(session);
    this.rt.logger.info({ clusterId, agent: session.agentAddress, apiserver: params.address }, 'agent tunnel connected');
    try {
      await this.storeCredential(session);
    } catch (err) {
      if (!this.rt.storeHealth.report(err)) this.rt.logger.error({ err, clusterId }, 'cannot store an agent tunnel credential; closing the tunnel');
      session.close(1011, 'the gateway cannot store the tunnel credential; retry shortly');
      return;
    }
    // Closed while its credential was being stored: that removal may have run before the row existed.
    if (!session.isOpen && !this.registry.newest(clusterId)) await this.forgetCredential(session);
  }

  /** A driver's tunnel is routed to at once; it brought no credential, so nothing is stored. */
  private registerDriver(module: DriverModuleName, session: DriverSession): void {
    this.metrics.sessions += 1;
    this.metrics.connected();
    this.drivers.add(module, session);
    this.rt.logger.info({ clusterId: session.clusterId, module, driver: session.params.address, from: session.agentAddress }, 'driver tunnel connected');
  }

  private driverClosed(session: DriverSession, reason: string): void {
    if (!this.drivers.all().includes(session)) return;
    this.metrics.sessions -= 1;
    this.drivers.remove(session);
    this.rt.logger.info({ clusterId: session.clusterId, driver: session.params.address, reason }, 'driver tunnel closed');
  }

  private storeCredential(session: TunnelSession): Promise<void> {
    const { params } = session;
    return storeTunnelCredential(this.rt.context(), session.clusterId, {
      ownerId: this.ownerId,
      serverAddress: params.address,
      caCertPem: params.caCertPem,
      userToken: params.userToken,
      agentAddress: session.agentAddress,
      connectedAt: session.connectedAt,
    });
  }

  /**
   * Keeps the rows of the clusters this process holds fresh, stores again those another process removed
   * (its own tunnel of the cluster closed) or pruned, and deletes the rows of processes that died.
   */
  async heartbeat(): Promise<void> {
    try {
      const held = [...new Set(this.registry.all().filter((s) => s.isOpen).map((s) => s.clusterId))];
      const missing = await refreshTunnelHeartbeats(this.rt.context(), held);
      for (const clusterId of missing) {
        const newest = this.registry.newest(clusterId);
        if (newest) await this.storeCredential(newest);
      }
      const pruned = await pruneStaleTunnelCredentials(this.rt.context());
      if (pruned.length) this.rt.logger.info({ clusters: pruned }, 'removed the tunnel credentials of gateway processes that stopped refreshing them');
    } catch (err) {
      // The store is down: the rows age; the holders refresh them on the next round that reaches it.
      if (!this.rt.storeHealth.report(err)) this.rt.logger.warn({ err }, 'cannot refresh agent tunnel heartbeats');
    }
  }

  private closed(session: TunnelSession, reason: string): void {
    if (!this.registry.sessionsOf(session.clusterId).includes(session)) return;
    this.metrics.sessions -= 1;
    const last = this.registry.remove(session);
    this.rt.logger.info({ clusterId: session.clusterId, agent: session.agentAddress, reason }, 'agent tunnel closed');
    if (last && !this.stopping) void this.forgetCredential(session);
  }

  private async forgetCredential(session: TunnelSession): Promise<void> {
    try {
      await removeTunnelCredential(this.rt.context(), session.clusterId, session.connectedAt);
    } catch (err) {
      if (!this.rt.storeHealth.report(err)) this.rt.logger.warn({ err, clusterId: session.clusterId }, 'cannot remove a closed agent tunnel credential');
    }
  }

  /** A register token revoked or rotated, or the cluster deleted: its tunnels opened with an old token close. */
  onChange(kind: ChangeKind, key: string): void {
    if (kind !== 'credential' && kind !== 'cluster') return;
    const sessions = [...this.registry.sessionsOf(key), ...this.drivers.ofCluster(key)].filter((s) => s.isOpen);
    if (sessions.length) void this.recheck(sessions);
  }

  /**
   * Closes the tunnels whose register token is no longer the cluster's active one. Runs on every change
   * to the cluster and periodically for all tunnels, which is how an expiring token (TTL) ends them.
   */
  async recheck(sessions: readonly (TunnelSession | DriverSession)[] = [...this.registry.all(), ...this.drivers.all()].filter((s) => s.isOpen)): Promise<void> {
    const pairs = sessions.flatMap((s) => {
      const digest = this.tokenDigests.get(s);
      return digest ? [{ session: s, clusterId: s.clusterId, digest }] : [];
    });
    let refused: boolean[];
    try {
      refused = await unauthorizedTunnels(this.rt.context(), pairs);
    } catch {
      // The store cannot say: keep the tunnels; the next change or round checks again.
      return;
    }
    pairs.forEach((p, i) => refused[i] && p.session.close(1008, 'register token revoked, rotated or expired, or cluster removed'));
  }

  /**
   * Closes every tunnel and removes this process's credential rows before the store closes (a removal
   * left to the close events would query a closed pool), so peers stop routing here at once.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.rechecks);
    clearInterval(this.heartbeats);
    const agents = this.registry.all();
    for (const s of [...agents, ...this.drivers.all()]) s.close(1001, 'gateway shutting down');
    this.wss.close();
    const newest = new Map(agents.map((s) => [s.clusterId, s]));
    await Promise.all([...newest.values()].map((s) => this.forgetCredential(s)));
  }
}
