import fs from 'node:fs';
import { stringify } from 'yaml';
import { ValidationError } from '../errors';
import type { Cluster } from '../store/entities';
import type { DomainContext, Principal } from './context';
import { getCluster } from './clusters';
import { issueToken } from './tokens';

export interface KubeconfigResult {
  kubeconfig: string;
  tokenId: number;
  expiresAt: Date | null;
  server: string;
}

/** The gateway URL kubectl should use: the configured public URL, else the listener this request came in on. */
export function gatewayBaseUrl(ctx: DomainContext, requestBaseUrl: string | undefined): string {
  const base = ctx.config.publicUrl ?? requestBaseUrl;
  if (!base) throw new ValidationError('public_url', 'the gateway does not know its public URL; set public_url in the configuration');
  return base.replace(/\/+$/, '');
}

export function tunnelPath(cluster: Cluster): string {
  return `/tunnels/clusters/${cluster.identifier}`;
}

/**
 * Issues the caller a fresh token and a kubeconfig that points at this gateway's tunnel for the cluster.
 * With TLS on, the kubeconfig trusts the gateway's own CA (never the cluster's CA: kubectl talks to us).
 */
export async function issueKubeconfig(ctx: DomainContext, actor: Principal, clusterId: string, ttl: number | null | undefined, requestBaseUrl?: string): Promise<KubeconfigResult> {
  const cluster = await getCluster(ctx, clusterId);
  const server = `${gatewayBaseUrl(ctx, requestBaseUrl)}${tunnelPath(cluster)}`;
  const issued = await issueToken(ctx, actor, actor.user, { name: `kubeconfig:${cluster.id}`, type: 'kubeconfig', ttlSeconds: ttl });
  const clusterEntry: Record<string, string> = { server };
  const caFile = ctx.config.tls?.caFile ?? ctx.config.tls?.certFile;
  if (server.startsWith('https:') && caFile) clusterEntry['certificate-authority-data'] = fs.readFileSync(caFile).toString('base64');
  const name = cluster.id;
  const user = `${actor.user.name}@${name}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: clusterEntry }],
    users: [{ name: user, user: { token: issued.secret } }],
    contexts: [{ name, context: { cluster: name, user } }],
    'current-context': name,
    preferences: {},
  };
  return { kubeconfig: stringify(doc), tokenId: issued.token.id, expiresAt: issued.token.expiresAt ?? null, server };
}
