import { requireSuperUser } from '../domain/authorize';
import type { Principal } from '../domain/context';
import { issueToken } from '../domain/tokens';
import { createUser, findUserByName, getUser } from '../domain/users';
import { requireName } from '../domain/validate';
import { ApiError, ERRCODE } from './render';
import { principalOf, readJsonObject, type Call } from './request';
import type { Router } from './router';
import { handler, type Handler } from './surface';
import { userTokenView, userView } from './views';

/** The original stores users created through /rest/users/ under this prefix. */
export const PLAIN_PREFIX = 'plain:';
const MAX_NAME = 255 - PLAIN_PREFIX.length;

/** Super-user routes take a bearer token or, like the original, a basic-auth password as the token. */
export async function superUser(call: Call, action: string): Promise<Principal> {
  const actor = await principalOf(call, { allowBasic: true });
  requireSuperUser(actor, action);
  return actor;
}

const createUserRoute = handler(
  async (call) => {
    const actor = await superUser(call, 'create users');
    const body = await readJsonObject(call.req);
    const userName = requireName('user_name', body['user_name'], MAX_NAME);
    const user = await createUser(call.ctx, actor, { name: PLAIN_PREFIX + userName, userType: 'plain', isSuperUser: false });
    return { body: userView(user) };
  },
  (err) => (err.code === 'CONFLICT' ? new ApiError(400, 'USER_ALREADY_EXISTS', ERRCODE.badRequest, 'user already exists') : undefined),
);

const getUserRoute = handler(async (call) => {
  await superUser(call, 'read users');
  const userName = call.params['user_name']!;
  const user = await findUserByName(call.ctx, PLAIN_PREFIX + userName);
  if (!user) throw new ApiError(404, 'USER_NOT_FOUND', ERRCODE.badRequest, `user with user_name=${userName} not found`);
  return { body: userView(user) };
});

/**
 * The original returned the user's existing plain token (get-or-create). Tokens are stored as digests
 * here, so each call issues a new one (valid for tokens.max_ttl_seconds) and shows it once.
 */
const createTokenRoute = handler(async (call) => {
  const actor = await superUser(call, 'issue tokens for users');
  const raw = call.params['user_id']!;
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw new ApiError(400, 'USER_ID_INVALID', ERRCODE.badRequest, `user_id must be a positive integer`);
  const user = await getUser(call.ctx, Number(raw));
  const issued = await issueToken(call.ctx, actor, user, { name: 'rest-plain', type: 'plain', ttlSeconds: call.ctx.config.tokens.maxTtlSeconds });
  return { body: userTokenView(issued.token, issued.secret) };
});

export function addUserRoutes(r: Router<Handler>): void {
  r.add('POST', '/users', createUserRoute);
  r.add('GET', '/users/:user_name', getUserRoute);
  r.add('POST', '/users/:user_id/tokens', createTokenRoute);
}
