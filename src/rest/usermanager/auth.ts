import type { Principal } from '../../domain/context';
import { ForbiddenError } from '../../errors';
import { principalOf, type Call } from '../request';

/** `AdminAuthFunc`: admin users, i.e. super users here. Bearer tokens only, as user-manager took them. */
export async function adminOnly(call: Call, action: string): Promise<Principal> {
  const actor = await principalOf(call);
  if (!actor.user.isSuperUser) throw new ForbiddenError(`only admin users may ${action}`);
  return actor;
}

/** `AuthFunc`: admin or saas users. */
export async function adminOrSaas(call: Call, action: string): Promise<Principal> {
  const actor = await principalOf(call);
  if (!actor.user.isSuperUser && actor.user.userType !== 'saas') throw new ForbiddenError(`only admin or saas users may ${action}`);
  return actor;
}
