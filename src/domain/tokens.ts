import { ref, type EntityManager, type FilterQuery } from '@mikro-orm/core';
import { newApiToken, sha256Hex, tokenHint } from '../crypto/tokens';
import { NotFoundError } from '../errors';
import { ApiToken, type ApiTokenType, type User } from '../store/entities';
import { requireSelfOrSuperUser } from './authorize';
import { commitWithChange } from './changes';
import type { DomainContext, Principal } from './context';
import { findPage, type Page, type PageArgs } from './pagination';
import { optionalString, ttlSeconds } from './validate';

export interface IssuedToken {
  token: ApiToken;
  /** The secret; returned once and never stored. */
  secret: string;
}

export interface IssueTokenInput {
  name?: string;
  type?: ApiTokenType;
  /** Seconds until expiry; null means the configured default. `never` asks for no expiry (process only). */
  ttlSeconds?: number | null;
  neverExpires?: boolean;
}

/** Issues a new token for `user`. `actor` undefined means the process itself (bootstrap, CLI, compat routes). */
export async function issueToken(ctx: DomainContext, actor: Principal | undefined, user: User, input: IssueTokenInput): Promise<IssuedToken> {
  if (actor) requireSelfOrSuperUser(actor, user.id, 'issue tokens');
  const { defaultTtlSeconds, maxTtlSeconds } = ctx.config.tokens;
  const ttl = ttlSeconds('ttl', input.ttlSeconds, defaultTtlSeconds, maxTtlSeconds);
  const secret = newApiToken();
  const token = new ApiToken();
  token.user = ref(user);
  token.name = optionalString('name', input.name, 128) ?? 'default';
  token.type = input.type ?? 'plain';
  token.digest = sha256Hex(secret);
  token.hint = tokenHint(secret);
  token.createdAt = ctx.now();
  token.expiresAt = input.neverExpires && !actor ? null : new Date(token.createdAt.getTime() + ttl * 1000);
  await ctx.em.persistAndFlush(token);
  return { token, secret };
}

/** Imports a token whose secret (or `sha256:<hex>` digest) comes from configuration. */
export async function importToken(ctx: DomainContext, user: User, secretOrDigest: string, name: string): Promise<ApiToken | undefined> {
  const digest = secretOrDigest.startsWith('sha256:') ? secretOrDigest.slice(7).toLowerCase() : sha256Hex(secretOrDigest);
  if (await ctx.em.findOne(ApiToken, { digest })) return undefined;
  const token = new ApiToken();
  token.user = ref(user);
  token.name = name;
  token.type = 'session';
  token.digest = digest;
  token.hint = secretOrDigest.startsWith('sha256:') ? `sha256…${digest.slice(-4)}` : tokenHint(secretOrDigest);
  token.createdAt = ctx.now();
  token.expiresAt = null;
  await ctx.em.persistAndFlush(token);
  return token;
}

export async function revokeToken(ctx: DomainContext, actor: Principal, id: number): Promise<ApiToken> {
  const token = await ctx.em.findOne(ApiToken, { id });
  // Someone else's token is reported as missing, so ids of other users' tokens are not confirmed.
  if (!token || (!actor.user.isSuperUser && token.user.id !== actor.user.id)) throw new NotFoundError('token', String(id));
  token.revokedAt = token.revokedAt ?? ctx.now();
  await commitWithChange(ctx, 'token', token.digest);
  return token;
}

export interface TokenFilter {
  userId?: number | null;
  includeRevoked?: boolean | null;
  includeExpired?: boolean | null;
}

export async function listTokens(ctx: DomainContext, actor: Principal, filter: TokenFilter, page: PageArgs): Promise<Page<ApiToken>> {
  const userId = filter.userId ?? (actor.user.isSuperUser ? undefined : actor.user.id);
  if (userId === undefined || userId !== actor.user.id) requireSelfOrSuperUser(actor, userId ?? -1, 'list tokens');
  const where: FilterQuery<ApiToken> = {};
  if (userId !== undefined) where.user = userId;
  if (!filter.includeRevoked) where.revokedAt = null;
  if (!filter.includeExpired) where.$or = [{ expiresAt: null }, { expiresAt: { $gt: ctx.now() } }];
  return findPage(ctx.em, ApiToken, where, 'id', 'number', page);
}

/** Tokens that expired or were revoked before `before` are of no further use; compat routes mint many. */
export async function purgeDeadTokens(em: EntityManager, before: Date): Promise<number> {
  return em.nativeDelete(ApiToken, { $or: [{ expiresAt: { $lt: before } }, { revokedAt: { $lt: before } }] });
}
