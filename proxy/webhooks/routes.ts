import {
  createAdmissionWebhookConfiguration,
  deleteAdmissionWebhookConfiguration,
  getAdmissionWebhookConfiguration,
  listAdmissionWebhookConfigurations,
  updateAdmissionWebhookConfiguration,
  type AdmissionWebhookConfigurationInput,
  type AdmissionWebhookConfigurationView,
  type WebhookInput,
} from '../../src/domain/admission-webhooks';
import type { Principal } from '../../src/domain/context';
import { isGatewayError, ValidationError } from '../../src/errors';
import type { Runtime } from '../../src/runtime';
import { STORE_UNAVAILABLE_MESSAGE } from '../../src/store/outage';

/** The original's codes for these routes (`bcs-common/common/errorCode.go`, 1405000 + offset). */
export const WEBHOOK_ROUTE_CODES = {
  parametersFailed: 1405007,
  internal: 1405050,
  noAuthority: 1405058,
  badRequest: 1405061,
  dbError: 1405062,
  resourceExist: 1405201,
  notFound: 1405202,
} as const;

export interface RouteResponse {
  status: number;
  body: unknown;
}

/** The BCS envelope (`COMMON/http/respone.go`). */
function ok(data: unknown): RouteResponse {
  return { status: 200, body: { result: true, code: 0, message: 'success', data } };
}

function fail(status: number, code: number, message: string, data: unknown = null): RouteResponse {
  return { status, body: { result: false, code, message, data } };
}

/** The original's flat `clientConfig` (url, or service name/namespace/port/path) and our structured one. */
interface OriginalClientConfig {
  url?: string;
  caBundle?: string;
  name?: string;
  namespace?: string;
  path?: string;
  port?: number;
}

/** The resource as the original's driver returns it, plus `metadata.resourceVersion` and `timeoutSeconds`. */
export function toOriginalJson(v: AdmissionWebhookConfigurationView): Record<string, unknown> {
  return {
    apiVersion: v.apiVersion ?? 'v4',
    kind: 'admissionwebhook',
    metadata: {
      name: v.name,
      namespace: v.namespace,
      labels: v.labels ?? {},
      annotations: v.annotations ?? {},
      resourceVersion: String(v.version),
      creationTimestamp: v.createdAt.toISOString(),
    },
    resourcesRef: { operation: v.operation, kind: v.kind },
    admissionWebhooks: v.webhooks.map((w) => {
      const cc: OriginalClientConfig = w.clientConfig.url
        ? { url: w.clientConfig.url, caBundle: w.clientConfig.caBundle }
        : { caBundle: w.clientConfig.caBundle, ...w.clientConfig.service };
      return {
        name: w.name,
        failurePolicy: w.failurePolicy,
        clientConfig: cc,
        ...(w.namespaceSelector ? { namespaceSelector: w.namespaceSelector } : {}),
        timeoutSeconds: w.timeoutSeconds,
      };
    }),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function webhookFromOriginal(raw: unknown): unknown {
  if (!isObject(raw)) return raw;
  const cc = raw['clientConfig'];
  let clientConfig: WebhookInput['clientConfig'] = cc as null | undefined;
  if (isObject(cc)) {
    const url = cc['url'];
    // As the original: a non-empty url wins, otherwise the service fields name the server.
    clientConfig =
      typeof url === 'string' && url !== ''
        ? { url, caBundle: cc['caBundle'] }
        : cc['name'] !== undefined && cc['name'] !== ''
          ? { service: { name: cc['name'], namespace: cc['namespace'], port: cc['port'], path: cc['path'] }, caBundle: cc['caBundle'] }
          : { caBundle: cc['caBundle'] };
  }
  return {
    name: raw['name'],
    failurePolicy: raw['failurePolicy'],
    clientConfig,
    namespaceSelector: raw['namespaceSelector'] as WebhookInput['namespaceSelector'],
    timeoutSeconds: raw['timeoutSeconds'],
  } satisfies WebhookInput;
}

interface ParsedBody {
  input: AdmissionWebhookConfigurationInput;
  name: string;
  resourceVersion?: number;
}

function parseBody(body: Buffer, urlNamespace: string): ParsedBody {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ValidationError('body', 'request body is not valid JSON');
  }
  if (!isObject(doc)) throw new ValidationError('body', 'request body must be a JSON object');
  if (doc['kind'] !== 'admissionwebhook') throw new ValidationError('kind', `field 'kind' must be "admissionwebhook" (got ${JSON.stringify(doc['kind'] ?? null)})`);
  const metadata = doc['metadata'];
  if (!isObject(metadata)) throw new ValidationError('metadata', "field 'metadata' is required");
  const ref = doc['resourcesRef'];
  if (!isObject(ref)) throw new ValidationError('resourcesRef', "field 'resourcesRef' is required");
  const webhooks = doc['admissionWebhooks'];
  const name = typeof metadata['name'] === 'string' ? metadata['name'] : '';
  let resourceVersion: number | undefined;
  const rv = metadata['resourceVersion'];
  if (rv !== undefined && rv !== null && rv !== '') {
    const n = typeof rv === 'number' ? rv : typeof rv === 'string' && /^\d+$/.test(rv) ? Number(rv) : NaN;
    if (!Number.isSafeInteger(n)) throw new ValidationError('metadata.resourceVersion', "field 'metadata.resourceVersion' must be the version returned by GET");
    resourceVersion = n;
  }
  const ns = metadata['namespace'];
  return {
    name,
    resourceVersion,
    input: {
      name: metadata['name'],
      // The original forced `bkbcs`; we keep what is given (metadata first, then the URL).
      namespace: ns !== undefined && ns !== null && ns !== '' ? ns : urlNamespace,
      operation: ref['operation'],
      kind: ref['kind'],
      webhooks: Array.isArray(webhooks) ? webhooks.map(webhookFromOriginal) : webhooks,
      labels: metadata['labels'] ?? null,
      annotations: metadata['annotations'] ?? null,
      apiVersion: doc['apiVersion'],
    },
  };
}

function segment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

type Route =
  | { route: 'write'; namespace: string }
  | { route: 'one'; namespace: string; name: string }
  | { route: 'list' };

/** True for the driver routes the gateway serves itself (no authentication needed to tell). */
export function isAdmissionWebhookRoute(uri: string): boolean {
  return matchRoute(uri) !== undefined;
}

function matchRoute(uri: string): Route | undefined {
  const path = uri.split('?')[0]!.replace(/^\/+/, '').replace(/\/+$/, '');
  const parts = path.split('/').map(segment);
  if (parts.length === 1 && parts[0] === 'admissionwebhooks') return { route: 'list' };
  if (parts[0] !== 'namespaces' || parts[2] !== 'admissionwebhook' || !parts[1]) return undefined;
  if (parts.length === 3) return { route: 'write', namespace: parts[1] };
  if (parts.length === 4 && parts[3]) return { route: 'one', namespace: parts[1], name: parts[3] };
  return undefined;
}

const ALLOWED: Record<Route['route'], string[]> = { write: ['POST', 'PUT'], one: ['GET', 'DELETE'], list: ['GET'] };

function renderError(rt: Runtime, err: unknown, route: Route, method: string, name?: string): RouteResponse {
  // The passthrough adds Retry-After to every 503; the outage is logged once by the store health.
  if (rt.storeHealth.report(err)) return fail(503, WEBHOOK_ROUTE_CODES.dbError, STORE_UNAVAILABLE_MESSAGE);
  if (!isGatewayError(err)) {
    rt.logger.error({ err, route: route.route, method }, 'admission webhook route failed');
    return fail(500, WEBHOOK_ROUTE_CODES.internal, 'bcs apiserver internal error');
  }
  switch (err.code) {
    case 'BAD_USER_INPUT': {
      const field = err instanceof ValidationError ? err.field : err.details['field'];
      return fail(400, WEBHOOK_ROUTE_CODES.badRequest, err.message, { field });
    }
    case 'FORBIDDEN':
      return fail(403, WEBHOOK_ROUTE_CODES.noAuthority, err.message);
    case 'UNAUTHENTICATED':
      return fail(401, WEBHOOK_ROUTE_CODES.noAuthority, err.message);
    case 'NOT_FOUND':
      return fail(404, WEBHOOK_ROUTE_CODES.notFound, `admission webhook ${name ?? err.details['key'] ?? ''} not found`);
    case 'CONFLICT':
      // The scheduler's words for a create of an existing name.
      if (method === 'POST' && err.details['name'] !== undefined) return fail(409, WEBHOOK_ROUTE_CODES.resourceExist, 'admission already exist');
      return fail(409, WEBHOOK_ROUTE_CODES.resourceExist, err.message);
    case 'UNAVAILABLE':
      return fail(503, WEBHOOK_ROUTE_CODES.internal, err.message);
    default:
      return fail(500, WEBHOOK_ROUTE_CODES.internal, 'bcs apiserver internal error');
  }
}

/**
 * The Mesos driver's admission webhook routes, served by the gateway from its own store. `uri` is the
 * path after `/bcsapi/v4/scheduler/mesos/`. Returns undefined for any other path, so the passthrough
 * forwards it; a known path with another method gets 405.
 *
 * - `POST namespaces/{ns}/admissionwebhook` creates (CONFLICT → 409 code 1405201 "admission already exist").
 * - `PUT namespaces/{ns}/admissionwebhook` replaces the configuration named in `metadata.name`; with
 *   `metadata.resourceVersion` (from GET) it fails with 409 if someone changed it meanwhile.
 * - `GET|DELETE namespaces/{ns}/admissionwebhook/{name}`: names are unique across namespaces (the
 *   original kept all of them in one namespace), so `{ns}` does not narrow the lookup.
 * - `GET admissionwebhooks` lists them by name.
 *
 * Everything answers in the BCS envelope; invalid input is 400 code 1405061 with `data.field`.
 */
export async function handleAdmissionWebhookRoute(
  rt: Runtime,
  method: string,
  uri: string,
  body: Buffer,
  actor: Principal,
): Promise<RouteResponse | undefined> {
  const route = matchRoute(uri);
  if (!route) return undefined;
  const m = method.toUpperCase();
  if (!ALLOWED[route.route].includes(m)) {
    return fail(405, WEBHOOK_ROUTE_CODES.parametersFailed, `method ${m} is not allowed here; use ${ALLOWED[route.route].join(' or ')}`);
  }
  const ctx = rt.context();
  let name: string | undefined;
  try {
    switch (route.route) {
      case 'list':
        return ok((await listAdmissionWebhookConfigurations(ctx, actor)).map(toOriginalJson));
      case 'one':
        name = route.name;
        if (m === 'GET') return ok(toOriginalJson(await getAdmissionWebhookConfiguration(ctx, actor, route.name)));
        await deleteAdmissionWebhookConfiguration(ctx, actor, route.name);
        return ok(null);
      case 'write': {
        const parsed = parseBody(body, route.namespace);
        name = parsed.name;
        if (m === 'POST') return ok(toOriginalJson(await createAdmissionWebhookConfiguration(ctx, actor, parsed.input)));
        if (!parsed.name) throw new ValidationError('metadata.name', "field 'metadata.name' is required");
        const { name: _n, ...rest } = parsed.input;
        const view = await updateAdmissionWebhookConfiguration(ctx, actor, parsed.name, rest, parsed.resourceVersion);
        return ok(toOriginalJson(view));
      }
    }
  } catch (err) {
    return renderError(rt, err, route, m, name);
  }
}
