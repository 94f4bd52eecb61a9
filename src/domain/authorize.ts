import { ForbiddenError } from '../errors';
import type { Principal } from './context';

export function requireSuperUser(actor: Principal, action: string): void {
  if (!actor.user.isSuperUser) throw new ForbiddenError(`only super users may ${action}`);
}

/** Super users, or the user acting on their own record. */
export function requireSelfOrSuperUser(actor: Principal, userId: number, action: string): void {
  if (!actor.user.isSuperUser && actor.user.id !== userId) throw new ForbiddenError(`only super users may ${action} for other users`);
}
