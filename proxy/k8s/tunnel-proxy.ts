import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Mount, RequestInfo } from '../../src/http/types';
import type { Runtime } from '../../src/runtime';
import type { AuditLog, AuditEvent } from './audit';
import { pathOf } from '../../src/http/request-path';
import { ClusterCache } from './cluster-cache';
import { forward } from './forward';
import type { ProxyMetrics } from '../shared/metrics';
import { admit, type Admitted, type PipelineDeps, type Rejected } from './pipeline';
import type { PrincipalCache, ProxyPrincipal } from '../shared/principal-cache';
import type { OpenStreams } from '../shared/streams';
import type { ChangeKind } from '../../src/store/entities';
import { STORE_RETRY_AFTER_SECONDS } from '../../src/store/outage';
import { auditVerb, isLongRunning } from './request-kind';
import { TUNNEL_PREFIX } from './route';
import { failures, writeStatus, writeStatusToSocket, type StatusFailure } from './status';
import { checkUpgradeRequest, relayUpgrade } from './upgrade';
import type { TunnelRoutes } from '../tunnel/routes';

const TYPE = 'k8s_native';

/** Who and where, for the audit line: what an admission decision leaves once the request is sent. */
interface AuditedAs {
  principal?: ProxyPrincipal;
  cluster?: { id: string };
  clusterKey?: string;
  impersonated?: string;
}

/** `/tunnels/clusters/{cluster}/{path}`: kubectl and client-go to every registered cluster. */
export class TunnelProxy {
  private readonly clusters: ClusterCache;
  private readonly deps: PipelineDeps;
  private inflight = 0;

  constructor(
    private readonly rt: Runtime,
    principals: PrincipalCache,
    private readonly metrics: ProxyMetrics,
    private readonly streams: OpenStreams,
    private readonly auditLog: AuditLog,
    tunnels?: TunnelRoutes,
  ) {
    const p = rt.config.proxy;
    const upstreamOptions = {
      serverName: p.upstreamServerName,
      connectTimeoutMs: p.connectTimeoutSeconds * 1000,
      healthIntervalMs: p.healthIntervalSeconds * 1000,
      idleMs: { h1: p.idleConnectionSeconds * 1000, h2: p.idleH2SessionSeconds * 1000 },
    };
    this.clusters = new ClusterCache(rt, upstreamOptions, undefined, tunnels);
    this.deps = { principals, clusters: this.clusters, policy: { impersonateNormalUsers: rt.config.rbac.turnOnRbac } };
  }

  /** Committed changes to clusters and credentials (tokens and users are the shared principal cache's). */
  onChange(kind: ChangeKind, key: string): void {
    if (kind === 'credential') this.clusters.invalidate(key);
    else if (kind === 'cluster') {
      this.clusters.invalidate(key);
      this.clusters.dropUpstream(key);
    }
  }

  /** An agent tunnel of the cluster connected or closed. */
  tunnelChanged(clusterId: string, connected: boolean): void {
    this.clusters.tunnelChanged(clusterId, connected);
  }

  mount(): Mount {
    return {
      prefix: TUNNEL_PREFIX,
      setsRequestIdHeader: true,
      handler: (req, res, info) => this.handle(req, res, info),
      upgrade: (req, socket, head, info) => this.handleUpgrade(req, socket, head, info),
    };
  }

  private enter(kind: string): boolean {
    if (this.inflight >= this.rt.config.proxy.maxInflight) return false;
    this.inflight += 1;
    this.metrics.enter(kind);
    return true;
  }

  private leave(kind: string): void {
    this.inflight -= 1;
    this.metrics.leave(kind);
  }

  /** Completes `base` (a literal made for this line) into the audit event, without copying it. */
  private audit(base: Partial<AuditEvent> & Pick<AuditEvent, 'requestId' | 'status' | 'method' | 'sourceIp'>, req: IncomingMessage, admitted?: AuditedAs, started = Date.now()): void {
    const principal = admitted?.principal;
    const url = req.url ?? '';
    const event = base as AuditEvent;
    event.cluster = admitted?.cluster?.id ?? admitted?.clusterKey;
    event.userId = principal?.userId;
    event.user = principal?.userName;
    event.tokenId = principal?.tokenId;
    event.impersonated = admitted?.impersonated;
    event.verb = auditVerb(base.method, url, base.upgrade);
    event.path = pathOf(url);
    event.bytesIn ??= 0;
    event.bytesOut ??= 0;
    event.durationMs = Date.now() - started;
    this.auditLog.write(event);
  }

  private observe(method: string, status: number, seconds: number, longRunning: boolean): void {
    this.metrics.observe(TYPE, method, status, seconds, longRunning);
  }

  private reject(res: ServerResponse, req: IncomingMessage, info: RequestInfo, started: number, failure: StatusFailure, admitted?: Rejected): void {
    writeStatus(res, failure, info.requestId);
    this.observe(req.method ?? 'GET', failure.code, (Date.now() - started) / 1000, false);
    this.audit({ requestId: info.requestId, status: failure.code, method: req.method ?? 'GET', sourceIp: info.remoteAddress, error: failure.reason }, req, admitted, started);
  }

  /**
   * Runs the passes; a store that cannot be read (cold cache, database down) is a 503 with Retry-After,
   * not a crash. An outage is logged once by the store health, anything else once per request.
   */
  private admitOrUnavailable(req: IncomingMessage, info: RequestInfo): Admitted | Rejected | Promise<Admitted | Rejected> {
    const unavailable = (err: unknown): Rejected => {
      if (!this.rt.storeHealth.report(err)) this.rt.logger.error({ err, requestId: info.requestId }, 'proxy could not admit request');
      return { failure: failures.unavailable('the gateway cannot check this request right now (store unavailable)', STORE_RETRY_AFTER_SECONDS) };
    };
    try {
      const admitted = admit(req, info.remoteAddress, info.requestId, this.deps);
      return admitted instanceof Promise ? admitted.catch(unavailable) : admitted;
    } catch (err) {
      return unavailable(err);
    }
  }

  /**
   * Synchronous from request to upstream dispatch when the token and cluster are cached: no promise
   * is made on the way (each costs an allocation and, with async hooks on, a hook call).
   */
  handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo): void | Promise<void> {
    const started = Date.now();
    const longRunning = isLongRunning(req.method ?? 'GET', (req.url ?? '').slice(TUNNEL_PREFIX.length - 1));
    const kind = longRunning ? 'watch' : 'normal';
    if (!this.enter(kind)) return this.reject(res, req, info, started, failures.tooMany('too many requests in flight through the gateway; retry shortly'));
    const admitted = this.admitOrUnavailable(req, info);
    if (admitted instanceof Promise) return admitted.then((a) => this.proceed(req, res, info, started, longRunning, a));
    this.proceed(req, res, info, started, longRunning, admitted);
  }

  /** From an admission decision to the end of the exchange; leaves the in-flight count exactly once. */
  private proceed(req: IncomingMessage, res: ServerResponse, info: RequestInfo, started: number, longRunning: boolean, admitted: Admitted | Rejected): void {
    const kind = longRunning ? 'watch' : 'normal';
    const method = req.method ?? 'GET';
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      this.leave(kind);
    };
    try {
      if ('failure' in admitted) {
        this.reject(res, req, info, started, admitted.failure, admitted);
        return leave();
      }
      // Every request, not only watches and follows: a large body read slowly is a live stream too. A short
      // request still waiting for its answer is let finish (cut, its client would see a reset, not a 401).
      const untrack = this.streams.track(admitted.principal, () => (longRunning || res.headersSent) && res.destroy());
      // Not `admitted` itself: an open watch would keep its upstream headers alive.
      const auditedAs: AuditedAs = { principal: admitted.principal, cluster: { id: admitted.cluster.id }, impersonated: admitted.impersonated };
      const opts = { responseTimeoutMs: this.rt.config.proxy.responseTimeoutSeconds * 1000, longRunning, requestId: info.requestId };
      forward(req, res, admitted, opts, (result) => {
        try {
          untrack();
          if (result.failure) writeStatus(res, result.failure, info.requestId);
          if (result.errorReason) this.metrics.upstreamErrors.inc({ reason: result.errorReason });
          this.observe(method, result.status, (Date.now() - started) / 1000, longRunning);
          this.audit({ requestId: info.requestId, status: result.status, method, sourceIp: info.remoteAddress, bytesIn: result.bytesIn, bytesOut: result.bytesOut, error: result.errorReason }, req, auditedAs, started);
        } finally {
          leave();
        }
      });
    } catch (err) {
      leave();
      throw err;
    }
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, info: RequestInfo): Promise<void> {
    const started = Date.now();
    const method = req.method ?? 'GET';
    socket.on('error', () => undefined);
    const refuse = (failure: StatusFailure, admitted?: Rejected): void => {
      writeStatusToSocket(socket, failure);
      this.observe('websocket', failure.code, (Date.now() - started) / 1000, true);
      this.audit({ requestId: info.requestId, status: failure.code, method, sourceIp: info.remoteAddress, upgrade: String(req.headers.upgrade ?? ''), error: failure.reason }, req, admitted, started);
    };
    const shape = checkUpgradeRequest(req, req.headers.upgrade);
    if (shape) return refuse(shape);
    if (!this.enter('upgrade')) return refuse(failures.tooMany('too many requests in flight through the gateway; retry shortly'));
    try {
      const admitted = await this.admitOrUnavailable(req, info);
      if ('failure' in admitted) return refuse(admitted.failure, admitted);
      const untrack = this.streams.track(admitted.principal, () => socket.destroy());
      const result = await relayUpgrade(req, socket, head, admitted, {
        connectTimeoutMs: this.rt.config.proxy.connectTimeoutSeconds * 1000,
        responseTimeoutMs: this.rt.config.proxy.responseTimeoutSeconds * 1000,
      });
      untrack();
      if (result.errorReason) this.metrics.upstreamErrors.inc({ reason: result.errorReason });
      this.observe('websocket', result.status === 101 ? 200 : result.status, (Date.now() - started) / 1000, true);
      this.audit({ requestId: info.requestId, status: result.status, method, sourceIp: info.remoteAddress, upgrade: admitted.upgrade, bytesIn: result.bytesIn, bytesOut: result.bytesOut, error: result.errorReason }, req, admitted, started);
    } finally {
      this.leave('upgrade');
    }
  }

  stop(): void {
    this.clusters.close();
  }
}
