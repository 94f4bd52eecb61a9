import type { AuthCheckerFn } from 'type-graphql';
import type { GraphqlContext } from './context';

/** Roles for `@Authorized`. Authentication itself is settled in the context, so no role means "any caller". */
export enum Role {
  SuperUser = 'SUPER_USER',
}

export const authChecker: AuthCheckerFn<GraphqlContext, Role> = ({ context }, roles) =>
  roles.every((role) => role === Role.SuperUser && context.actor.user.isSuperUser);
