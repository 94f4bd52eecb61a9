import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { bearerFrom } from '../../src/domain/auth';
import type { AmbiguousKey, ClusterCache, ResolvedCluster } from './cluster-cache';
import { dropHopByHop } from './passes/hop-by-hop';
import { identityHeaders, type IdentityPolicy, type ProxyPrincipal } from './passes/identity';
import { hasClientIdentityHeaders, scrubClientIdentity } from './passes/scrub';
import type { AuthOutcome, PrincipalCache } from '../shared/principal-cache';
import { parseTunnelTarget, type TunnelRoute } from './route';
import { failures, type StatusFailure } from './status';
import { isIndexLikeName, overHeaderBudget } from '../shared/header-budget';

/** What the passes decided about one request; the transport (plain or upgrade) does the rest. */
export interface Admitted {
  principal: ProxyPrincipal;
  cluster: ResolvedCluster & { upstream: NonNullable<ResolvedCluster['upstream']> };
  upstreamPath: string;
  /** Headers to send upstream, multi-valued ones as arrays (one line each). */
  headers: OutgoingHttpHeaders;
  impersonated?: string;
  /** The `Upgrade` value the client asked for, captured before hop-by-hop headers are dropped. */
  upgrade?: string;
}

export interface Rejected {
  failure: StatusFailure;
  principal?: ProxyPrincipal;
  clusterKey?: string;
}

export interface PipelineDeps {
  principals: PrincipalCache;
  clusters: ClusterCache;
  policy: IdentityPolicy;
}

/**
 * Every header's values one per line, read from `rawHeaders` (pseudo-headers of HTTP/2 left out). Not
 * `headersDistinct`: HTTP/2 requests lack it, and on HTTP/1.1 it is cached on the request, so a watch
 * would keep an array per header for as long as it stays open; this map is garbage once admitted.
 */
function distinctHeaders(req: IncomingMessage): Record<string, string[] | undefined> {
  const out: Record<string, string[] | undefined> = Object.create(null) as Record<string, string[] | undefined>;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.charCodeAt(0) === 58) continue;
    (out[name] ??= []).push(raw[i + 1]!);
  }
  return out;
}

/** What the passes carry from one step to the next. */
interface Admission {
  req: IncomingMessage;
  route: TunnelRoute;
  upgrade: string | undefined;
  remoteAddress: string;
  requestId: string;
  deps: PipelineDeps;
}

/**
 * Runs the passes in their fixed order: drop hop-by-hop → authenticate → resolve the cluster → scrub
 * client identity headers → set identity → set the upstream credential. The order matters: hop-by-hop
 * removal comes before anything is added, so nothing the gateway sets can be stripped later.
 * Synchronous when the token and the cluster are cached (steady state); a promise when either loads.
 */
export function admit(req: IncomingMessage, remoteAddress: string, requestId: string, deps: PipelineDeps): Admitted | Rejected | Promise<Admitted | Rejected> {
  const route = parseTunnelTarget(req.url ?? '');
  if ('error' in route) return { failure: failures.badRequest(route.error) };

  // The credential presented to this hop authenticates even if the client also named Authorization in
  // Connection (it is for us, and never forwarded: scrubbing removes it), so read it before pass 1.
  const token = bearerFrom(req.headers.authorization);
  const a: Admission = { req, route, upgrade: dropHopByHop(req.headers), remoteAddress, requestId, deps };

  const auth = deps.principals.authenticate(token);
  return auth instanceof Promise ? auth.then((outcome) => authenticated(a, outcome)) : authenticated(a, auth);
}

function authenticated(a: Admission, auth: AuthOutcome): Admitted | Rejected | Promise<Admitted | Rejected> {
  if (!auth.ok) return { failure: failures.unauthorized(auth.message), clusterKey: a.route.clusterKey };
  const { principal } = auth;
  const cluster = a.deps.clusters.resolve(a.route.clusterKey);
  return cluster instanceof Promise ? cluster.then((c) => resolved(a, principal, c)) : resolved(a, principal, cluster);
}

function resolved(a: Admission, principal: ProxyPrincipal, cluster: ResolvedCluster | AmbiguousKey | undefined): Admitted | Rejected {
  const { req, route } = a;
  if (!cluster) return { failure: failures.notFound(route.clusterKey), principal, clusterKey: route.clusterKey };
  if ('ambiguous' in cluster) return { failure: failures.ambiguousCluster(route.clusterKey, cluster.ambiguous), principal, clusterKey: route.clusterKey };
  if (!cluster.upstream) {
    return { failure: failures.unavailable(`cluster ${cluster.id} has no credentials: its agent has not reported them yet`, 10), principal, clusterKey: cluster.id };
  }

  const requested = scrubClientIdentity(req.headers, req.rawHeaders);
  const identity = identityHeaders(principal, requested, a.deps.policy);
  if ('code' in identity) return { failure: identity, principal, clusterKey: cluster.id };
  // Fail closed: nothing the client sent about identity may survive to the upstream request.
  if (hasClientIdentityHeaders(req.headers)) return { failure: failures.internal('identity headers survived scrubbing'), principal, clusterKey: cluster.id };

  const tooLarge = overHeaderBudget(req.rawHeaders);
  if (tooLarge !== undefined) return { failure: failures.headersTooLarge(tooLarge), principal, clusterKey: cluster.id };

  // The gateway's own fields first, the client's after them: a server upstream that keeps only the first
  // N header lines (Node's keeps 2,000 and drops the rest silently) loses client headers, never these.
  // The serializers keep this order (wire-headers.ts, upgrade.ts). No client header can share a name with
  // them: scrubbing removed those, and the fail-closed check above made sure of it.
  const headers: OutgoingHttpHeaders = { authorization: `Bearer ${cluster.upstream.secrets.userToken}` };
  Object.assign(headers, identity.headers);
  headers['x-forwarded-for'] = a.remoteAddress;
  headers['audit-id'] = a.requestId;
  const distinct = distinctHeaders(req);
  for (const name of Object.keys(req.headers)) {
    // Pseudo-headers (`:method`, `:path`, `:authority`, `:scheme` over HTTP/2) describe this hop, never a header upstream.
    if (name === 'host' || name.charCodeAt(0) === 58 /* ':' */ || isIndexLikeName(name)) continue;
    const values = distinct[name] ?? [];
    headers[name] = values.length === 1 ? values[0] : values;
  }
  return { principal, cluster: cluster as Admitted['cluster'], upstreamPath: route.upstreamPath, headers, impersonated: identity.impersonated, upgrade: a.upgrade };
}
