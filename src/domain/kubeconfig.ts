import fs from 'node:fs';
import { stringify } from 'yaml';
import { ValidationError } from '../errors';
import type { Cluster, User } from '../store/entities';
import type { DomainContext, Principal } from './context';
import { getCluster } from './clusters';
import { issueToken } from './tokens';

export interface KubeconfigResult {
  kubeconfig: string;
  tokenId: number;
  expiresAt: Date | null;
  server: string;
}

const trimSlashes = (url: string): string => url.replace(/\/+$/, '');

/** A URL host for a bound address: a wildcard stands for loopback (the first-run certificate names it). */
function hostOf(address: string): string {
  if (address === '0.0.0.0' || address === '') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * The gateway URL kubectl should use: the configured public URL; else the TLS listener, since kubectl
 * sends a bearer token only over TLS (under the host name the request used, so a request on the plain
 * listener gets the TLS URL next to it); without TLS, the URL the request came in on.
 * `requestBaseUrl` is absent for the command line, which answers from the configuration alone.
 */
export function gatewayBaseUrl(ctx: DomainContext, requestBaseUrl: string | undefined): string {
  if (ctx.config.publicUrl) return trimSlashes(ctx.config.publicUrl);
  const tls = ctx.config.tls;
  if (tls) {
    if (requestBaseUrl?.startsWith('https:')) return trimSlashes(requestBaseUrl);
    if (tls.port === 0) throw new ValidationError('public_url', 'the TLS port is chosen when the gateway starts (port 0); set a fixed port or public_url');
    const url = new URL(requestBaseUrl ?? `https://${hostOf(tls.address)}`);
    url.protocol = 'https:';
    url.port = String(tls.port);
    return url.origin;
  }
  if (!requestBaseUrl) {
    throw new ValidationError('public_url', 'the gateway serves no TLS, so kubectl would not send its token; configure TLS (or leave auto_tls on) or set public_url');
  }
  return trimSlashes(requestBaseUrl);
}

/** The CA kubectl must trust to reach this gateway (`ca_file`, or the certificate itself), or undefined without TLS. */
export function gatewayCaPem(ctx: DomainContext): string | undefined {
  const file = ctx.config.tls ? (ctx.config.tls.caFile ?? ctx.config.tls.certFile) : undefined;
  return file ? fs.readFileSync(file, 'utf8') : undefined;
}

export function tunnelPath(cluster: Cluster): string {
  return `/tunnels/clusters/${cluster.identifier}`;
}

export interface KubeconfigOptions {
  /** Token lifetime in seconds; the configured default when absent. */
  ttl?: number | null;
  /** The URL the request came in on; absent on the command line. */
  requestBaseUrl?: string;
}

/**
 * Issues `user` a fresh token and a kubeconfig that points at this gateway's tunnel for the cluster.
 * With TLS on, the kubeconfig trusts the gateway's own CA (never the cluster's CA: kubectl talks to us).
 * `actor` undefined means the process itself (the command line).
 */
export async function issueKubeconfig(ctx: DomainContext, actor: Principal | undefined, user: User, clusterId: string, opts: KubeconfigOptions = {}): Promise<KubeconfigResult> {
  const cluster = await getCluster(ctx, clusterId);
  const server = `${gatewayBaseUrl(ctx, opts.requestBaseUrl)}${tunnelPath(cluster)}`;
  const issued = await issueToken(ctx, actor, user, { name: `kubeconfig:${cluster.id}`, type: 'kubeconfig', ttlSeconds: opts.ttl });
  const clusterEntry: Record<string, string> = { server };
  const caPem = server.startsWith('https:') ? gatewayCaPem(ctx) : undefined;
  if (caPem) clusterEntry['certificate-authority-data'] = Buffer.from(caPem).toString('base64');
  const name = cluster.id;
  const userEntry = `${user.name}@${name}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: clusterEntry }],
    users: [{ name: userEntry, user: { token: issued.secret } }],
    contexts: [{ name, context: { cluster: name, user: userEntry } }],
    'current-context': name,
    preferences: {},
  };
  return { kubeconfig: stringify(doc), tokenId: issued.token.id, expiresAt: issued.token.expiresAt ?? null, server };
}
