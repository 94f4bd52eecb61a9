import type { IncomingMessage, ServerResponse } from 'node:http';
import { serverBaseUrl, type ServiceDiscovery } from '../../src/discovery/types';
import { pathOf } from '../../src/http/request-path';
import type { Mount, RequestInfo } from '../../src/http/types';
import { passthroughAudit, type AuditLog } from '../k8s/audit';
import { CODES, sendEnvelopeError } from '../mesos/envelope';
import { overHeaderBudget } from '../shared/header-budget';
import { upstreamErrorReason, type ProxyMetrics } from '../shared/metrics';
import type { ProxyPrincipal } from '../shared/principal-cache';
import { safeUri } from '../shared/safe-uri';
import { upstreamRequestHeaders } from './headers';
import type { ModuleAccess } from './module-access';
import { isWatch, MODULE_ROUTES, type ModuleRoute } from './routes';
import type { ModuleUpstream } from './upstream';

/**
 * `/bcsapi/v4/{storage,detection,metric,netservice,clusterkeeper}/{uri}`: the original's passthroughs to
 * the modules found in ZooKeeper, one random live server per request. Unlike the original: the caller
 * must be allowed (module-access.ts), its credentials never reach the module, the module's own status,
 * headers and body come back streamed, and failures are the original's envelope with a real status
 * (503 no server, 502 refused or reset, 504 deadline).
 */
export class ModulePassthrough {
  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly auditLog: AuditLog,
    private readonly discovery: ServiceDiscovery,
    private readonly access: ModuleAccess,
    private readonly upstream: ModuleUpstream,
  ) {}

  mounts(): Mount[] {
    return MODULE_ROUTES.map((route) => ({ prefix: route.prefix, handler: (req, res, info) => this.handle(route, req, res, info) }));
  }

  private async handle(route: ModuleRoute, req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<void> {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const rest = (req.url ?? '').slice(route.prefix.length);
    const watch = isWatch(rest);
    let principal: ProxyPrincipal | undefined;
    let clusterId: string | undefined;
    let error: string | undefined;
    res.once('close', () => {
      this.metrics.observe(route.type, method, res.writableFinished ? res.statusCode : 0, (Date.now() - started) / 1000, watch);
      this.auditLog.write(passthroughAudit(req, res, info, started, clusterId, principal, error));
    });

    if (!route.methods.has(method)) return sendEnvelopeError(res, 405, CODES.badRequest, `method ${method} is not allowed here`, { allow: [...route.methods].join(', ') });
    const tooLarge = overHeaderBudget(req.rawHeaders);
    if (tooLarge !== undefined) return sendEnvelopeError(res, 431, CODES.badRequest, tooLarge);
    const uri = safeUri(rest);
    if (uri === undefined) return sendEnvelopeError(res, 400, CODES.badRequest, 'the request path may not contain dot segments or encoded separators');

    const decision = await this.access(req, { type: route.type, method, path: pathOf(uri) });
    principal = decision.principal;
    clusterId = decision.clusterId;
    if (!decision.allowed) return sendEnvelopeError(res, decision.status, decision.code, decision.message, decision.headers);

    if (this.discovery.state() === 'disabled') return sendEnvelopeError(res, 503, route.notFoundCode, `${route.notFoundText}: ZooKeeper discovery is not configured (set bcs_zookeeper)`);
    const servers = this.discovery.servers(route.module);
    if (!servers.length) return sendEnvelopeError(res, 503, route.notFoundCode, route.notFoundText);
    // Uniformly at random among the live servers, as the original.
    const server = servers[Math.floor(Math.random() * servers.length)]!;

    const kind = watch ? 'watch' : 'normal';
    this.metrics.enter(kind);
    try {
      const outcome = await this.upstream.forward(req, res, {
        origin: serverBaseUrl(server),
        path: `${route.upstreamPrefix}${uri}`,
        headers: upstreamRequestHeaders(req.headers, info.remoteAddress),
        watch,
      });
      if (outcome.cut) error = 'response cut';
      const failed = outcome.failed;
      // A client that left before the answer is no upstream failure.
      if (!failed || res.headersSent || res.destroyed) return;
      const reason = upstreamErrorReason(failed.error);
      error = reason;
      this.metrics.upstreamErrors.inc({ reason });
      const what = failed.timeout ? `no answer within the deadline (${failed.error.code})` : (failed.error.code ?? 'connection error');
      sendEnvelopeError(res, failed.timeout ? 504 : 502, CODES.upstreamFailed, `request ${route.module} failed: ${what}`);
    } finally {
      this.metrics.leave(kind);
    }
  }
}
