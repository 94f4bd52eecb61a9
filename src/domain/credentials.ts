import crypto from 'node:crypto';
import { ref } from '@mikro-orm/core';
import { NotFoundError, ValidationError } from '../errors';
import { ClusterCredential } from '../store/entities';
import { requireSuperUser } from './authorize';
import { commitWithChange } from './changes';
import type { DomainContext, Principal } from './context';
import { getCluster } from './clusters';
import { verifyRegisterToken } from './register-tokens';
import { requireString } from './validate';

const aad = (clusterId: string, field: string): string => `cluster-credential:${clusterId}:${field}`;

export interface CredentialReport {
  registerToken: unknown;
  serverAddresses: unknown;
  caCertData: unknown;
  userToken: unknown;
  clusterDomain?: unknown;
  /** Network address the report came from, for the audit trail. */
  reporterAddress?: string;
}

/** Plain credential material; only ever handed to the proxy and to super users. */
export interface ClusterSecrets {
  clusterId: string;
  serverAddresses: string[];
  caCertData: string;
  userToken: string;
  clusterDomain: string | null;
  createdAt: Date;
  updatedAt: Date;
  id: number;
}

/**
 * The original's agents send `;`-joined addresses, newer ones `,`-joined. Each must be an http(s) URL
 * with a host; the list is kept in the order given (the agent sorts it).
 */
export function parseServerAddresses(value: unknown): string[] {
  const text = requireString('server_addresses', value);
  const parts = text.split(/[;,]/).map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new ValidationError('server_addresses', "field 'server_addresses' is required");
  for (const part of parts) {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new ValidationError('server_addresses', `field 'server_addresses' has an invalid URL: "${part}"`);
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname) {
      throw new ValidationError('server_addresses', `field 'server_addresses' has an invalid URL: "${part}" (expected https://host:port)`);
    }
  }
  return parts;
}

/** Returns the SHA-256 fingerprint of the first certificate in a PEM bundle, validating the bundle. */
export function caFingerprint(pem: string): string {
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) throw new ValidationError('cacert_data', "field 'cacert_data' must be a PEM certificate");
  try {
    return new crypto.X509Certificate(pem).fingerprint256;
  } catch {
    throw new ValidationError('cacert_data', "field 'cacert_data' is not a valid PEM certificate");
  }
}

/** Stores what a cluster's agent reports, authorised by the cluster's register token. */
export async function reportCredentials(ctx: DomainContext, clusterId: string, report: CredentialReport): Promise<ClusterCredential> {
  const registerToken = requireString('register_token', report.registerToken);
  const serverAddresses = parseServerAddresses(report.serverAddresses);
  const caCert = requireString('cacert_data', report.caCertData);
  const fingerprint = caFingerprint(caCert);
  const userToken = requireString('user_token', report.userToken);
  const cluster = await getCluster(ctx, clusterId);
  await verifyRegisterToken(ctx, cluster.id, registerToken);

  const now = ctx.now();
  let cred = await ctx.em.findOne(ClusterCredential, { cluster: cluster.id });
  const clusterDomain = typeof report.clusterDomain === 'string' && report.clusterDomain ? report.clusterDomain.slice(0, 255) : null;
  // Agents report every minute; an unchanged report only moves reported-at, so caches are not churned.
  if (cred && sameCredential(ctx, cred, { serverAddresses, fingerprint, caCert, userToken, clusterDomain })) {
    cred.reportedAt = now;
    cred.reporterAddress = report.reporterAddress?.slice(0, 64) ?? null;
    await ctx.em.flush();
    return cred;
  }
  if (!cred) {
    cred = new ClusterCredential();
    cred.cluster = ref(cluster);
    cred.createdAt = now;
    ctx.em.persist(cred);
  }
  cred.serverAddresses = serverAddresses;
  cred.caCertSealed = ctx.keyring.seal(caCert, aad(cluster.id, 'ca'));
  cred.caFingerprint = fingerprint;
  cred.userTokenSealed = ctx.keyring.seal(userToken, aad(cluster.id, 'token'));
  cred.clusterDomain = clusterDomain;
  cred.reporterAddress = report.reporterAddress?.slice(0, 64) ?? null;
  cred.reportedAt = now;
  cred.updatedAt = now;
  await commitWithChange(ctx, 'credential', cluster.id);
  return cred;
}

function sameCredential(
  ctx: DomainContext,
  cred: ClusterCredential,
  next: { serverAddresses: string[]; fingerprint: string; caCert: string; userToken: string; clusterDomain: string | null },
): boolean {
  if (cred.caFingerprint !== next.fingerprint || (cred.clusterDomain ?? null) !== next.clusterDomain) return false;
  if (cred.serverAddresses.join(',') !== next.serverAddresses.join(',')) return false;
  try {
    const current = openCredential(ctx, cred);
    return current.userToken === next.userToken && current.caCertData === next.caCert;
  } catch {
    // Sealed under a key no longer in the keyring: store the report afresh.
    return false;
  }
}

export async function findCredential(ctx: DomainContext, clusterId: string): Promise<ClusterCredential | null> {
  return ctx.em.findOne(ClusterCredential, { cluster: clusterId });
}

export function openCredential(ctx: Pick<DomainContext, 'keyring'>, cred: ClusterCredential): ClusterSecrets {
  const clusterId = cred.cluster.id;
  return {
    id: cred.id,
    clusterId,
    serverAddresses: cred.serverAddresses,
    caCertData: ctx.keyring.open(cred.caCertSealed, aad(clusterId, 'ca')),
    userToken: ctx.keyring.open(cred.userTokenSealed, aad(clusterId, 'token')),
    clusterDomain: cred.clusterDomain ?? null,
    createdAt: cred.createdAt,
    updatedAt: cred.updatedAt,
  };
}

/** The cluster's service-account credential; super users only (the original let anyone read it). */
export async function readClusterSecrets(ctx: DomainContext, actor: Principal | undefined, clusterId: string): Promise<ClusterSecrets> {
  if (actor) requireSuperUser(actor, 'read cluster credentials');
  await getCluster(ctx, clusterId);
  const cred = await findCredential(ctx, clusterId);
  if (!cred) throw new NotFoundError('credentials', clusterId, 'no credentials found');
  return openCredential(ctx, cred);
}

export async function readAllClusterSecrets(ctx: DomainContext, actor: Principal): Promise<ClusterSecrets[]> {
  requireSuperUser(actor, 'read cluster credentials');
  const creds = await ctx.em.find(ClusterCredential, {}, { orderBy: { id: 'asc' } });
  return creds.map((c) => openCredential(ctx, c));
}
