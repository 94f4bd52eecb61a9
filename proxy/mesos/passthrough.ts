import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { isGatewayError } from '../../src/errors';
import type { DriverDiscovery, DriverModule } from '../../src/discovery/types';
import { readBody } from '../../src/http/respond';
import { pathOf } from '../../src/http/request-path';
import type { Mount, RequestInfo } from '../../src/http/types';
import type { Runtime } from '../../src/runtime';
import { STORE_RETRY_AFTER_SECONDS, STORE_UNAVAILABLE_MESSAGE } from '../../src/store/outage';
import { passthroughAudit, type AuditLog } from '../k8s/audit';
import { isIndexLikeName, overHeaderBudget } from '../shared/header-budget';
import type { ProxyMetrics } from '../shared/metrics';
import type { BcsapiAccess } from '../shared/bcsapi-access';
import { isIdentityHeader } from '../shared/bcsapi-caller';
import type { ProxyPrincipal } from '../shared/principal-cache';
import { safeUri } from '../shared/safe-uri';
import { upstreamTls } from '../shared/upstream-tls';
import type { AdmissionRunner } from '../webhooks/types';
import type { DriverRoutes } from '../tunnel/driver-tunnels';
import { CODES, sendEnvelope, sendEnvelopeError } from './envelope';
import { DriverUpstreams, type DriverUpstream } from './upstreams';

/** Serves the original's admission-webhook driver routes from the gateway's store (undefined: not one of them). */
export type WebhookRouteHandler = (method: string, uri: string, body: Buffer, token: string) => Promise<{ status: number; body: unknown } | undefined>;

interface Surface {
  prefix: string;
  module: DriverModule;
  /** Path prefix on the driver. */
  driverPath: string;
  type: string;
  methods: Set<string>;
  notFoundCode: number;
  notFoundText: (cluster: string) => string;
}

const SURFACES: Surface[] = [
  {
    prefix: '/bcsapi/v4/scheduler/mesos/',
    module: 'mesosdriver',
    driverPath: '/mesosdriver/v4/',
    type: 'mesos',
    methods: new Set(['GET', 'POST', 'PUT', 'DELETE']),
    notFoundCode: CODES.noMesosDriver,
    notFoundText: (c) => `mesos cluster ${c} not found`,
  },
  {
    prefix: '/bcsapi/v4/scheduler/k8s/',
    module: 'kubernetedriver',
    driverPath: '/k8sdriver/v4/',
    type: 'k8s_driver',
    methods: new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']),
    notFoundCode: CODES.noK8sDriver,
    notFoundText: (c) => `k8s cluster ${c} not found`,
  },
];

const MAX_BODY = 10 * 1024 * 1024;
const DROP_REQUEST = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'authorization', 'cookie', 'proxy-authorization', 'content-length', 'content-type', 'x-forwarded-for', 'forwarded']);
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'trailer', 'upgrade']);
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);
const RETRY_AFTER = { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) };

/**
 * `/bcsapi/v4/scheduler/mesos/{uri}` and `/bcsapi/v4/scheduler/k8s/{uri}`: the original's passthrough to
 * Mesos and k8s drivers connected through a driver tunnel, else found in ZooKeeper (upstreams.ts).
 * Unlike the original every caller is identified and checked against the original's rule table and the
 * grants (proxy/shared/bcsapi-access.ts); it returns the driver's own status and content type, retries a refused connection once on another
 * driver, applies a deadline, and runs admission webhooks on Mesos writes before forwarding.
 */
export class DriverPassthrough {
  private readonly upstreams: DriverUpstreams;

  constructor(
    private readonly rt: Runtime,
    private readonly access: BcsapiAccess,
    private readonly metrics: ProxyMetrics,
    private readonly auditLog: AuditLog,
    private readonly discovery: DriverDiscovery,
    private readonly admission?: AdmissionRunner,
    private readonly webhookRoutes?: WebhookRouteHandler,
    tunnels?: DriverRoutes,
  ) {
    this.upstreams = new DriverUpstreams(discovery, upstreamTls(rt.config), tunnels);
  }

  mounts(): Mount[] {
    return SURFACES.map((s) => ({ prefix: s.prefix, handler: (req, res, info) => this.handle(s, req, res, info) }));
  }

  private async handle(surface: Surface, req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<void> {
    const started = Date.now();
    const method = req.method ?? 'GET';
    let clusterId: string | undefined;
    let principal: ProxyPrincipal | undefined;
    res.once('finish', () => {
      this.metrics.observe(surface.type, method, res.statusCode, (Date.now() - started) / 1000, false);
      this.auditLog.write(passthroughAudit(req, res, info, started, clusterId, principal));
    });

    if (!surface.methods.has(method)) return sendEnvelopeError(res, 405, CODES.badRequest, `method ${method} is not allowed here`, { allow: [...surface.methods].join(', ') });
    const tooLarge = overHeaderBudget(req.rawHeaders);
    if (tooLarge !== undefined) return sendEnvelopeError(res, 431, CODES.badRequest, tooLarge);
    clusterId = String(req.headers['bcs-clusterid'] ?? '').trim() || undefined;
    // Checked before the body is read: a caller without access costs us no buffering.
    const decision = await this.access.authorize(req, { module: surface.module === 'mesosdriver' ? 'mesos' : 'k8s', method, uri: (req.url ?? '').slice(surface.prefix.length), clusterId });
    principal = decision.principal;
    if (!decision.ok) return sendEnvelopeError(res, decision.status, decision.code, decision.message, decision.headers);
    const token = decision.token;

    const uri = safeUri((req.url ?? '').slice(surface.prefix.length));
    if (uri === undefined) return sendEnvelopeError(res, 400, CODES.badRequest, 'the request path may not contain dot segments or encoded separators');

    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY);
    } catch {
      return sendEnvelopeError(res, 413, CODES.badRequest, `request body exceeds ${MAX_BODY} bytes`);
    }
    let contentType = req.headers['content-type'];
    if (surface.module === 'mesosdriver' && contentType === 'application/x-yaml' && body.length) {
      try {
        body = Buffer.from(JSON.stringify(parseYaml(body.toString('utf8'))));
        contentType = 'application/json';
      } catch (err) {
        return sendEnvelopeError(res, 400, CODES.badYaml, `request yaml convert to json error: ${(err as Error).message.split('\n')[0]}`);
      }
    }

    if (surface.module === 'mesosdriver' && this.webhookRoutes) {
      let served;
      try {
        // A JWT caller has no gateway token: the webhook routes then refuse it as anonymous.
        served = await this.webhookRoutes(method, pathOf(uri), body, token ?? '');
      } catch (err) {
        return this.storeUnavailable(res, err);
      }
      if (served?.status === 503) res.setHeader('retry-after', RETRY_AFTER['retry-after']);
      if (served) return sendEnvelope(res, served.status, served.body);
    }

    if (!clusterId) return sendEnvelopeError(res, 400, CODES.missingHeader, "http header BCS-ClusterID can't be empty");

    if (surface.module === 'mesosdriver' && this.admission && (method === 'POST' || method === 'PUT')) {
      let outcome;
      try {
        outcome = await this.admission.admit(method === 'POST' ? 'Create' : 'Update', body);
      } catch (err) {
        if (!isGatewayError(err)) throw err;
        // Reported so that a store outage behind it is logged (once) with its cause.
        this.rt.storeHealth.report(err);
        return sendEnvelopeError(res, 503, CODES.internal, `admission webhooks cannot be checked right now: ${err.message}`, RETRY_AFTER);
      }
      if (!outcome.allowed) return sendEnvelopeError(res, 400, CODES.webhookFailed, `request webhook ${outcome.webhook} error ${outcome.reason}`);
      body = outcome.body;
    }

    const drivers = this.upstreams.select(surface.module, clusterId);
    if (!drivers.length && this.discovery.state() === 'disabled') {
      return sendEnvelopeError(res, 503, surface.notFoundCode, `${surface.notFoundText(clusterId)}: ZooKeeper discovery is not configured (set bcs_zookeeper)`);
    }
    if (!drivers.length) return sendEnvelopeError(res, 503, surface.notFoundCode, surface.notFoundText(clusterId));
    await this.forward(surface, req, res, drivers.slice(0, 2), `${surface.driverPath}${uri}`, body, contentType);
  }

  /** A store outage is a 503 with Retry-After (logged once per outage by the store health); anything else is not ours to answer. */
  private storeUnavailable(res: ServerResponse, err: unknown): void {
    if (!this.rt.storeHealth.report(err)) throw err;
    sendEnvelopeError(res, 503, CODES.dbError, STORE_UNAVAILABLE_MESSAGE, RETRY_AFTER);
  }

  private forward(surface: Surface, req: IncomingMessage, res: ServerResponse, drivers: DriverUpstream[], path: string, body: Buffer, contentType: string | undefined): Promise<void> {
    // The body's framing and type first: a driver that keeps only the first N header lines loses client
    // headers, never these (the same order as the tunnel; see proxy/shared/header-budget.ts).
    const headers: http.OutgoingHttpHeaders = { 'content-type': contentType ?? 'application/json', 'content-length': body.length };
    // Pseudo-headers of an HTTP/2 request are not headers; Node would also refuse them as HTTP/1.1 names.
    for (const [name, value] of Object.entries(req.headers)) if (!DROP_REQUEST.has(name) && !isIdentityHeader(name) && name.charCodeAt(0) !== 58 && !isIndexLikeName(name) && value !== undefined) headers[name] = value;
    headers.accept ??= 'application/json';
    const timeoutMs = this.rt.config.mesos.timeoutSeconds * 1000;

    return new Promise<void>((resolve) => {
      const attempt = (index: number): void => {
        const target = new URL(path, drivers[index]!.base);
        // Host first too: Node's client would add it after every other field. The agent decides the
        // transport (TCP, or the driver's tunnel) and TLS; http.request takes an https URL with an https agent.
        const upstream = http.request(target, { method: req.method, headers: { host: target.host, ...headers }, agent: drivers[index]!.agent });
        let answered = false;
        upstream.setTimeout(timeoutMs, () => upstream.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000}s`), { code: 'ETIMEDOUT_RESPONSE' })));
        upstream.once('response', (driverRes) => {
          answered = true;
          const out: string[] = [];
          for (let i = 0; i + 1 < driverRes.rawHeaders.length; i += 2) if (!DROP_RESPONSE.has(driverRes.rawHeaders[i]!.toLowerCase())) out.push(driverRes.rawHeaders[i]!, driverRes.rawHeaders[i + 1]!);
          res.writeHead(driverRes.statusCode ?? 502, out);
          driverRes.pipe(res);
          driverRes.once('end', () => resolve());
          driverRes.once('error', () => {
            res.destroy();
            resolve();
          });
        });
        upstream.once('error', (err: NodeJS.ErrnoException) => {
          if (answered || res.headersSent) {
            res.destroy();
            return resolve();
          }
          if (CONNECT_FAILURES.has(err.code ?? '') && !upstream.reusedSocket && index + 1 < drivers.length) return attempt(index + 1);
          if (upstream.reusedSocket && index + 1 < drivers.length) return attempt(index + 1);
          const timedOut = err.code === 'ETIMEDOUT_RESPONSE';
          this.metrics.upstreamErrors.inc({ reason: timedOut ? 'timeout' : 'driver' });
          sendEnvelopeError(res, timedOut ? 504 : 502, CODES.upstreamFailed, `request ${surface.type === 'mesos' ? 'mesos' : 'k8s'} driver failed: ${timedOut ? err.message : (err.code ?? 'connection error')}`);
          resolve();
        });
        res.once('close', () => {
          if (!res.writableFinished) upstream.destroy();
        });
        upstream.end(body);
      };
      attempt(0);
    });
  }

  stop(): void {
    this.upstreams.stop();
  }
}
