import type { EntityManager } from '@mikro-orm/core';
import { sha256Hex } from '../crypto/tokens';
import { UnauthenticatedError } from '../errors';
import { ApiToken } from '../store/entities';
import { findTokenWithUser } from '../store/token-lookup';
import type { Principal } from './context';

/** Writing last-used on every request would turn reads into writes; once a minute is enough to audit. */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Extracts the bearer token from an Authorization header value; undefined when absent or not Bearer.
 * Several values are no credential at all: picking one would let a later hop pick another (the
 * listeners refuse such requests before they get here; this keeps the function honest on its own).
 */
export function bearerFrom(header: string | string[] | undefined): string | undefined {
  if (Array.isArray(header) && header.length !== 1) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m?.[1];
}

/**
 * Resolves a presented token to its user. Unknown, expired, revoked tokens and disabled users are all
 * UNAUTHENTICATED with a message that says which, and never echo the token.
 */
export async function authenticate(em: EntityManager, token: string | undefined, now: Date): Promise<Principal> {
  if (!token) throw new UnauthenticatedError('anonymous requests are forbidden, please provide a valid token');
  const found = await findTokenWithUser(em, sha256Hex(token));
  if (!found) throw new UnauthenticatedError('invalid token');
  const user = found.user.getEntity();
  if (found.revokedAt) throw new UnauthenticatedError('this token has been revoked');
  if (found.expiresAt && found.expiresAt <= now) throw new UnauthenticatedError(`this token has expired for user: ${user.name}`);
  if (user.disabledAt) throw new UnauthenticatedError(`user ${user.name} is disabled`);
  if (!found.lastUsedAt || now.getTime() - found.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    // A targeted update, so concurrent requests never overwrite other columns of the token.
    await em.nativeUpdate(ApiToken, { id: found.id }, { lastUsedAt: now });
    found.lastUsedAt = now;
  }
  return { user, token: found };
}
