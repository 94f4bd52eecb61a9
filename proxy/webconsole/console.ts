import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { pathOf } from '../../src/http/request-path';
import type { Mount, RequestInfo } from '../../src/http/types';
import type { Runtime } from '../../src/runtime';
import type { AuditLog } from '../k8s/audit';
import { sendEnvelopeError } from '../mesos/envelope';
import type { BcsapiAccess } from '../shared/bcsapi-access';
import type { ProxyMetrics } from '../shared/metrics';
import type { ProxyPrincipal } from '../shared/principal-cache';
import type { OpenStreams } from '../shared/streams';
import { ConsoleHttp } from './http-forward';
import { ConsoleNetworks } from './networks';
import { refuseUpgrade } from './refuse';
import { consoleTarget, consoleTls, DEFAULT_CONSOLE_PORT, type ConsoleTarget } from './target';
import { WEBCONSOLE_FAILED, WebSocketRelay } from './ws-relay';

export const WEBCONSOLE_PREFIX = '/bcsapi/v1/webconsole/';
const METRIC_TYPE = 'mesos_webconsole';
const PARAMETERS_INVALID = 1405007;

type Admission =
  | { ok: true; target: ConsoleTarget; principal: ProxyPrincipal; cluster: string; hostIp: string; /** A gateway token (not a JWT): revocation ends the session. */ revocable: boolean }
  | { ok: false; status: number; code: number; message: string; headers?: Record<string, string>; principal?: ProxyPrincipal; cluster?: string; hostIp?: string };

/** What the original's ws dialer would refuse; checked before anything is dialled for it. */
function badHandshake(req: IncomingMessage): string | undefined {
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'only WebSocket upgrades are relayed here';
  if (!/^[+/0-9A-Za-z]{22}==$/.test(String(req.headers['sec-websocket-key'] ?? ''))) return 'missing or invalid Sec-WebSocket-Key';
  if (req.headers['sec-websocket-version'] !== '13') return 'unsupported Sec-WebSocket-Version (13 is)';
  return undefined;
}

/**
 * The Mesos web console, `/bcsapi/v1/webconsole/{path}?host_ip=…`: WebSocket frames and plain HTTP relayed
 * to the console proxy on `host_ip`. The original asked nothing of the caller and dialled any host; here
 * the caller needs exec rights on the cluster (`BCS-ClusterID` header or `cluster_id` parameter), and
 * `host_ip` must be an address inside `webconsole.allowed_networks`. Everything is checked before any dial.
 * Revoking the caller's token, or disabling them, ends their open console sessions as it ends exec ones.
 */
export class WebConsole {
  private readonly networks: ConsoleNetworks;
  private readonly port: number;
  private readonly secure: boolean;
  private readonly http: ConsoleHttp;
  private readonly ws: WebSocketRelay;

  constructor(
    rt: Runtime,
    private readonly access: BcsapiAccess,
    private readonly metrics: ProxyMetrics,
    private readonly auditLog: AuditLog,
    private readonly streams: OpenStreams,
    ownAddresses?: string[],
  ) {
    this.networks = new ConsoleNetworks(rt.config.webconsole.allowedNetworks, ownAddresses);
    this.port = rt.config.consoleProxyPort ?? DEFAULT_CONSOLE_PORT;
    const tls = consoleTls(rt.config);
    this.secure = Boolean(tls);
    const connectMs = rt.config.proxy.connectTimeoutSeconds * 1000;
    this.http = new ConsoleHttp(tls, connectMs);
    this.ws = new WebSocketRelay(tls, connectMs);
  }

  mount(): Mount {
    return { prefix: WEBCONSOLE_PREFIX, handler: (req, res, info) => this.handle(req, res, info), upgrade: (req, socket, head, info) => this.upgrade(req, socket, head, info) };
  }

  private async admit(req: IncomingMessage): Promise<Admission> {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const hostIp = url.searchParams.get('host_ip') ?? undefined;
    const caller = await this.access.identify(req);
    if (!caller.ok) return { ...caller, hostIp };
    const principal = caller.principal;
    const cluster = String(req.headers['bcs-clusterid'] ?? '').trim() || url.searchParams.get('cluster_id')?.trim() || undefined;
    if (!cluster) return { ok: false, status: 400, code: PARAMETERS_INVALID, message: 'name the cluster in the BCS-ClusterID header or the cluster_id query parameter', principal, hostIp };
    const host = this.networks.check(hostIp);
    if (!host.ok) return { ok: false, status: host.status, code: host.status === 400 ? PARAMETERS_INVALID : WEBCONSOLE_FAILED, message: host.message, principal, cluster, hostIp };
    const target = consoleTarget(req.url ?? '/', host.address, host.family, this.port, this.secure);
    if (!target) return { ok: false, status: 400, code: PARAMETERS_INVALID, message: 'the request path may not contain dot segments or encoded separators', principal, cluster, hostIp };
    const refused = await this.access.authorizeExec(principal, cluster);
    if (refused) return { ...refused, principal, cluster, hostIp };
    return { ok: true, target, principal, cluster, hostIp: host.address, revocable: caller.token !== undefined };
  }

  private async handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<void> {
    const started = Date.now();
    const admission = await this.admit(req);
    if (!admission.ok) {
      sendEnvelopeError(res, admission.status, admission.code, admission.message, admission.headers);
      return this.record(req, info, started, admission, { status: admission.status, bytesOut: Number(res.getHeader('content-length') ?? 0) });
    }
    const end = await this.http.forward(req, res, admission.target, forwardedFor(req, info));
    this.record(req, info, started, admission, end);
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, info: RequestInfo): Promise<void> {
    const started = Date.now();
    const bad = badHandshake(req);
    const admission: Admission = bad ? { ok: false, status: 400, code: PARAMETERS_INVALID, message: bad } : await this.admit(req);
    if (!admission.ok) {
      refuseUpgrade(socket, admission.status, admission.code, admission.message, admission.headers);
      return this.record(req, info, started, admission, { status: admission.status, bytesOut: 0 }, true);
    }
    let untrack = (): void => undefined;
    this.ws.relay(
      req,
      socket,
      head,
      admission.target,
      forwardedFor(req, info),
      (end) => {
        untrack();
        this.record(req, info, started, admission, end, true);
      },
      (end) => {
        if (admission.revocable) untrack = this.streams.track(admission.principal, end);
      },
    );
  }

  private record(req: IncomingMessage, info: RequestInfo, started: number, a: Admission, end: { status: number; bytesOut: number; bytesIn?: number; error?: string }, upgrade = false): void {
    const method = req.method ?? 'GET';
    const seconds = (Date.now() - started) / 1000;
    this.metrics.observe(METRIC_TYPE, upgrade ? 'websocket' : method, end.status, seconds, upgrade);
    this.auditLog.write({
      requestId: info.requestId,
      cluster: a.cluster,
      userId: a.principal?.userId,
      user: a.principal?.userName,
      tokenId: a.principal?.tokenId || undefined,
      verb: upgrade ? 'webconsole' : method.toLowerCase(),
      method,
      path: pathOf(req.url ?? ''),
      target: a.hostIp,
      status: end.status,
      bytesIn: end.bytesIn ?? Number(req.headers['content-length'] ?? 0),
      bytesOut: end.bytesOut,
      durationMs: Date.now() - started,
      upgrade: upgrade ? 'websocket' : undefined,
      sourceIp: info.remoteAddress,
      error: end.error,
    });
  }

  async stop(): Promise<void> {
    this.ws.close();
    await this.http.close();
  }
}

function forwardedFor(req: IncomingMessage, info: RequestInfo): { for: string; proto: string } {
  // Appended, as the original did: the console sees the chain, and the gateway's peer last.
  const prior = req.headers['x-forwarded-for'];
  const chain = [...(Array.isArray(prior) ? prior : prior ? [prior] : []), info.remoteAddress].join(', ');
  return { for: chain, proto: info.baseUrl.startsWith('https') ? 'https' : 'http' };
}
