import { ref, UniqueConstraintViolationException } from '@mikro-orm/core';
import { digestsEqual, newRegisterToken, sha256Hex } from '../crypto/tokens';
import { ConflictError, NotFoundError, UnauthenticatedError, ValidationError } from '../errors';
import { RegisterToken, type Cluster } from '../store/entities';
import { requireSuperUser } from './authorize';
import type { DomainContext, Principal } from './context';
import { commitWithChange } from './changes';
import { getCluster } from './clusters';

/** Seals the token to its cluster, so a sealed value copied to another cluster's row does not open. */
const aad = (clusterId: string): string => `register-token:${clusterId}`;

export interface RegisterTokenView {
  token: RegisterToken;
  secret: string;
}

function isActive(token: RegisterToken, now: Date): boolean {
  return !token.revokedAt && (!token.expiresAt || token.expiresAt > now);
}

export async function activeRegisterToken(ctx: DomainContext, clusterId: string): Promise<RegisterToken | null> {
  const token = await ctx.em.findOne(RegisterToken, { activeFor: clusterId });
  return token && isActive(token, ctx.now()) ? token : null;
}

/** Reads the active token's secret back (super users only, as the original allows). */
export async function readRegisterToken(ctx: DomainContext, actor: Principal | undefined, clusterId: string): Promise<RegisterTokenView> {
  if (actor) requireSuperUser(actor, 'read register tokens');
  await getCluster(ctx, clusterId);
  const token = await activeRegisterToken(ctx, clusterId);
  if (!token) throw new NotFoundError('register token', clusterId, 'register token not found');
  return { token, secret: ctx.keyring.open(token.tokenSealed, aad(clusterId)) };
}

async function insertToken(ctx: DomainContext, actor: Principal | undefined, cluster: Cluster, ttlSeconds?: number | null): Promise<RegisterTokenView> {
  if (ttlSeconds !== undefined && ttlSeconds !== null && (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)) {
    throw new ValidationError('ttl', "field 'ttl' must be a positive number of seconds");
  }
  const secret = newRegisterToken();
  const token = new RegisterToken();
  token.cluster = ref(cluster);
  token.activeFor = cluster.id;
  token.tokenSealed = ctx.keyring.seal(secret, aad(cluster.id));
  token.digest = sha256Hex(secret);
  token.createdBy = actor ? ref(actor.user) : null;
  token.createdAt = ctx.now();
  token.expiresAt = ttlSeconds ? new Date(token.createdAt.getTime() + ttlSeconds * 1000) : null;
  ctx.em.persist(token);
  return { token, secret };
}

/** Retires an expired active token so its slot can be reused. */
async function clearExpired(ctx: DomainContext, clusterId: string): Promise<void> {
  const current = await ctx.em.findOne(RegisterToken, { activeFor: clusterId });
  if (current && !isActive(current, ctx.now())) {
    current.activeFor = null;
    await ctx.em.flush();
  }
}

/** Creates the cluster's register token; CONFLICT if one is already active (rotate it instead). */
export async function createRegisterToken(ctx: DomainContext, actor: Principal | undefined, clusterId: string, ttlSeconds?: number | null): Promise<RegisterTokenView> {
  if (actor) requireSuperUser(actor, 'create register tokens');
  const cluster = await getCluster(ctx, clusterId);
  await clearExpired(ctx, cluster.id);
  const view = await insertToken(ctx, actor, cluster, ttlSeconds);
  try {
    await ctx.em.flush();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) {
      throw new ConflictError('can not create register token: token already exists', { clusterId });
    }
    throw err;
  }
  return view;
}

/** Replaces the active token (if any) with a new one in one transaction. */
export async function rotateRegisterToken(ctx: DomainContext, actor: Principal, clusterId: string, ttlSeconds?: number | null): Promise<RegisterTokenView> {
  requireSuperUser(actor, 'rotate register tokens');
  const view = await ctx.em.transactional(async (em) => {
    const inner = { ...ctx, em };
    const cluster = await getCluster(inner, clusterId);
    const current = await em.findOne(RegisterToken, { activeFor: cluster.id });
    if (current) {
      current.activeFor = null;
      current.revokedAt = current.revokedAt ?? ctx.now();
      await em.flush();
    }
    const created = await insertToken(inner, actor, cluster, ttlSeconds);
    await em.flush();
    return created;
  });
  // Agent tunnels opened with the old token are closed by the proxies that hold them.
  await commitWithChange(ctx, 'credential', view.token.cluster.id);
  return view;
}

export async function revokeRegisterToken(ctx: DomainContext, actor: Principal, clusterId: string): Promise<RegisterToken> {
  requireSuperUser(actor, 'revoke register tokens');
  await getCluster(ctx, clusterId);
  const current = await ctx.em.findOne(RegisterToken, { activeFor: clusterId });
  if (!current) throw new NotFoundError('register token', clusterId, 'register token not found');
  current.activeFor = null;
  current.revokedAt = current.revokedAt ?? ctx.now();
  await commitWithChange(ctx, 'credential', current.cluster.id);
  return current;
}

/**
 * Checks a register token presented by an agent. Both failure kinds are UNAUTHENTICATED; `reason`
 * tells the compat routes which of the original's code_names to use.
 */
export async function verifyRegisterToken(ctx: DomainContext, clusterId: string, presented: string): Promise<void> {
  const token = await activeRegisterToken(ctx, clusterId);
  if (!token) throw new UnauthenticatedError('no valid register token found for cluster', { reason: 'RTOKEN_NOT_FOUND' });
  if (!digestsEqual(token.digest, sha256Hex(presented))) {
    throw new UnauthenticatedError('invalid register token given', { reason: 'INVALID_RTOKEN' });
  }
}
