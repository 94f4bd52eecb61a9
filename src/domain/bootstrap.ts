import type { BootstrapUser } from '../config/config';
import { User } from '../store/entities';
import type { DomainContext } from './context';
import { createUser, findUserByName } from './users';
import { importToken, issueToken } from './tokens';

export interface BootstrapResult {
  createdUsers: string[];
  importedTokens: number;
  /** Set when a default admin was created: its token, to be printed once. */
  defaultAdmin?: { name: string; token: string };
}

/**
 * Creates the configured bootstrap users and imports their tokens. Unlike the original, an existing
 * user still gets tokens it does not have yet, and every listed token works (not only the first).
 * With no super user at all, creates `admin` and returns its token so it can be shown once.
 */
export async function bootstrapUsers(ctx: DomainContext, users: BootstrapUser[], createDefaultAdmin: boolean): Promise<BootstrapResult> {
  const result: BootstrapResult = { createdUsers: [], importedTokens: 0 };
  for (const spec of users) {
    let user = await findUserByName(ctx, spec.name);
    if (!user) {
      user = await createUser(ctx, undefined, { name: spec.name, isSuperUser: spec.isSuperUser, groups: spec.groups });
      result.createdUsers.push(user.name);
    }
    for (const [i, token] of spec.tokens.entries()) {
      if (await importToken(ctx, user, token, `bootstrap-${i + 1}`)) result.importedTokens += 1;
    }
  }
  if (createDefaultAdmin && (await ctx.em.count(User, { isSuperUser: true })) === 0) {
    const name = (await findUserByName(ctx, 'admin')) ? `admin-${Date.now()}` : 'admin';
    const admin = await createUser(ctx, undefined, { name, isSuperUser: true, userType: 'admin' });
    const issued = await issueToken(ctx, undefined, admin, { name: 'bootstrap', type: 'session', neverExpires: true });
    result.createdUsers.push(name);
    result.defaultAdmin = { name, token: issued.secret };
  }
  return result;
}
