import type { DomainContext, Principal } from '../../domain/context';
import { issueToken, listTokens, revokeToken, type IssuedToken } from '../../domain/tokens';
import { createUser, findUserByName } from '../../domain/users';
import { requireName } from '../../domain/validate';
import { NotFoundError, ValidationError } from '../../errors';
import type { User, UserType } from '../../store/entities';
import { ApiError, ERRCODE } from '../render';
import type { Call } from '../request';
import type { Router } from '../router';
import { handler, type Handler, type Reply } from '../surface';
import { adminOnly, adminOrSaas } from './auth';
import { umUserView } from './views';

/** Tokens handed out by these routes carry this name, so a refresh can retire the earlier ones. */
const TOKEN_NAME = 'usermanager';
const DAY = 24 * 3600;

const guard = (type: UserType): ((call: Call, action: string) => Promise<Principal>) => (type === 'plain' ? adminOrSaas : adminOnly);

/** admin and saas tokens lived 10 years in the original, plain ones 24 h; ours are capped by configuration. */
function ttlFor(ctx: DomainContext, type: UserType): number {
  const max = ctx.config.tokens.maxTtlSeconds;
  return type === 'plain' ? Math.min(DAY, max) : max;
}

async function issue(ctx: DomainContext, user: User, ttlSeconds: number): Promise<IssuedToken> {
  // The route has authorised the caller already; saas callers may hand out plain users' tokens.
  return issueToken(ctx, undefined, user, { name: TOKEN_NAME, type: user.userType === 'plain' ? 'plain' : 'session', ttlSeconds });
}

async function existing(ctx: DomainContext, type: UserType, name: string): Promise<User> {
  const user = await findUserByName(ctx, name);
  if (!user || user.userType !== type) throw new NotFoundError('user', name, `${type} user ${name} not found`);
  return user;
}

function create(type: UserType): Handler {
  return handler(
    async (call): Promise<Reply> => {
      const actor = await guard(type)(call, `create ${type} users`);
      const name = requireName('user_name', call.params['user_name'], 255);
      // User and token are written together, so a failure leaves no user without a token.
      const { user, issued } = await call.ctx.em.transactional(async (em) => {
        const ctx = { ...call.ctx, em };
        const user = await createUser(ctx, undefined, { name, userType: type, isSuperUser: type === 'admin' });
        return { user, issued: await issue(ctx, user, ttlFor(ctx, type)) };
      });
      return { body: umUserView(user, issued.token, issued.secret, actor.user.name) };
    },
    (err) => (err.code === 'CONFLICT' ? new ApiError(400, 'USER_ALREADY_EXISTS', ERRCODE.badRequest, `user ${userNameOf(err.details)} already exists`) : undefined),
  );
}

function userNameOf(details: Record<string, unknown>): string {
  return typeof details['name'] === 'string' ? details['name'] : '';
}

/**
 * The original returned the stored token. Tokens are kept only as digests here, so reading a user
 * issues a new token (the earlier ones stay valid until they expire).
 */
function read(type: UserType): Handler {
  return handler(async (call) => {
    await guard(type)(call, `read ${type} users`);
    const user = await existing(call.ctx, type, call.params['user_name']!);
    const issued = await issue(call.ctx, user, ttlFor(call.ctx, type));
    return { body: umUserView(user, issued.token, issued.secret, '') };
  });
}

/** saas refresh: a new token replaces the user's earlier user-manager tokens, as in the original. */
const refreshSaas = handler(async (call) => {
  const actor = await adminOnly(call, 'refresh saas users');
  const user = await existing(call.ctx, 'saas', call.params['user_name']!);
  const issued = await call.ctx.em.transactional(async (em) => {
    const ctx = { ...call.ctx, em };
    let after: string | undefined;
    for (;;) {
      const page = await listTokens(ctx, actor, { userId: user.id }, { first: 500, after });
      for (const t of page.items) if (t.name === TOKEN_NAME) await revokeToken(ctx, actor, t.id);
      if (!page.hasNextPage) break;
      after = page.cursors[page.cursors.length - 1];
    }
    return issue(ctx, user, ttlFor(ctx, 'saas'));
  });
  return { body: umUserView(user, issued.token, issued.secret, '') };
});

/** plain refresh: a token valid for `expire_time` days (the original extended the stored one). */
const refreshPlain = handler(async (call) => {
  await adminOrSaas(call, 'refresh plain users');
  const maxDays = Math.floor(call.ctx.config.tokens.maxTtlSeconds / DAY);
  const raw = call.params['expire_time']!;
  const days = /^[0-9]{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(days >= 1 && days <= maxDays)) throw new ValidationError('expire_time', `field 'expire_time' must be a whole number of days between 1 and ${maxDays}`);
  const user = await existing(call.ctx, 'plain', call.params['user_name']!);
  const issued = await issue(call.ctx, user, days * DAY);
  return { body: umUserView(user, issued.token, issued.secret, '') };
});

export function addUserManagerUserRoutes(r: Router<Handler>): void {
  for (const type of ['admin', 'saas', 'plain'] as const) {
    r.add('POST', `/v1/users/${type}/:user_name`, create(type));
    r.add('GET', `/v1/users/${type}/:user_name`, read(type));
  }
  r.add('PUT', '/v1/users/saas/:user_name/refresh', refreshSaas);
  r.add('PUT', '/v1/users/plain/:user_name/refresh/:expire_time', refreshPlain);
}
