import { AuthorizationError, type AuthCheckerFn } from 'type-graphql';
import type { GraphqlContext } from './context';

/** Roles for `@Authorized`. Authentication itself is settled in the context, so no role means "any caller". */
export enum Role {
  SuperUser = 'SUPER_USER',
}

export const authChecker: AuthCheckerFn<GraphqlContext, Role> = ({ context }, roles) =>
  roles.every((role) => role === Role.SuperUser && context.actor.user.isSuperUser);

/**
 * `@Authorized(Role.SuperUser)` for a field resolved on every row of a list, with the same error. The
 * decorator runs type-graphql's middleware chain (about six promises per field per row: 4,800 on a
 * 200-cluster page); this is one comparison.
 */
export function requireSuperUserField(context: GraphqlContext): void {
  if (!context.actor.user.isSuperUser) throw new AuthorizationError();
}
