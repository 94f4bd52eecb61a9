import { Arg, Args, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { requireSelfOrSuperUser } from '../../domain/authorize';
import { createUser, deleteUser, getUser, listUsers, setUserDisabled } from '../../domain/users';
import { Role } from '../auth-checker';
import type { GraphqlContext } from '../context';
import { UserFilter } from '../inputs/filters.input';
import { CreateUserInput } from '../inputs/mutations.input';
import { PageArgs } from '../inputs/page.args';
import { UserConnection, UserObject } from '../types/user.type';

@Resolver(() => UserObject)
export class UserResolver {
  @Query(() => UserObject, { description: 'The caller.' })
  viewer(@Ctx() { actor }: GraphqlContext): UserObject {
    return UserObject.from(actor.user);
  }

  @Query(() => UserObject, { description: 'Super users may read anyone; others only themselves.' })
  async user(@Arg('id', () => Int) id: number, @Ctx() { domain, actor }: GraphqlContext): Promise<UserObject> {
    requireSelfOrSuperUser(actor, id, 'read users');
    return UserObject.from(await getUser(domain, id));
  }

  @Authorized(Role.SuperUser)
  @Query(() => UserConnection)
  async users(@Args() page: PageArgs, @Arg('filter', () => UserFilter, { nullable: true }) filter: UserFilter | null, @Ctx() { domain, actor }: GraphqlContext): Promise<UserConnection> {
    return UserConnection.from(await listUsers(domain, actor, filter ?? {}, page), UserObject.from);
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => UserObject)
  async createUser(@Arg('input', () => CreateUserInput) input: CreateUserInput, @Ctx() { domain, actor }: GraphqlContext): Promise<UserObject> {
    const user = await createUser(domain, actor, {
      name: input.name,
      isSuperUser: input.isSuperUser ?? undefined,
      userType: input.userType ?? undefined,
      groups: input.groups ?? undefined,
    });
    return UserObject.from(user);
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => UserObject, { description: 'Disabled users cannot authenticate with any of their tokens.' })
  async disableUser(@Arg('id', () => Int) id: number, @Ctx() { domain, actor }: GraphqlContext): Promise<UserObject> {
    return UserObject.from(await setUserDisabled(domain, actor, id, true));
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => UserObject)
  async enableUser(@Arg('id', () => Int) id: number, @Ctx() { domain, actor }: GraphqlContext): Promise<UserObject> {
    return UserObject.from(await setUserDisabled(domain, actor, id, false));
  }

  @Authorized(Role.SuperUser)
  @Mutation(() => UserObject, { description: 'Deletes the user and their tokens; returns the user as it was.' })
  async deleteUser(@Arg('id', () => Int) id: number, @Ctx() { domain, actor }: GraphqlContext): Promise<UserObject> {
    const user = await getUser(domain, id);
    // Mapped before removal: the ORM may clear the entity's identity once it is deleted.
    const snapshot = UserObject.from(user);
    await deleteUser(domain, actor, id);
    return snapshot;
  }
}
