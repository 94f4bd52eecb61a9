import { UniqueConstraintViolationException, type FilterQuery } from '@mikro-orm/core';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { User, type UserType } from '../store/entities';
import { requireSuperUser } from './authorize';
import { commitWithChange } from './changes';
import type { DomainContext, Principal } from './context';
import type { Lean } from '../store/lean';
import { findLeanPage, type Page, type PageArgs } from './pagination';
import { groupsList, requireName } from './validate';

export interface CreateUserInput {
  name: string;
  isSuperUser?: boolean;
  userType?: UserType;
  groups?: string[];
}

export interface UserFilter {
  nameContains?: string | null;
  isSuperUser?: boolean | null;
  disabled?: boolean | null;
}

/** Creates a user; `actor` undefined means the process itself (bootstrap, CLI). */
export async function createUser(ctx: DomainContext, actor: Principal | undefined, input: CreateUserInput): Promise<User> {
  if (actor) requireSuperUser(actor, 'create users');
  const name = requireName('name', input.name, 255);
  const user = new User();
  user.name = name;
  user.userType = input.userType ?? (input.isSuperUser ? 'admin' : 'plain');
  user.isSuperUser = input.isSuperUser ?? user.userType === 'admin';
  user.groups = groupsList('groups', input.groups);
  user.createdAt = ctx.now();
  user.updatedAt = user.createdAt;
  try {
    await ctx.em.persistAndFlush(user);
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw new ConflictError(`user ${name} already exists`, { name });
    throw err;
  }
  return user;
}

export async function findUserByName(ctx: DomainContext, name: string): Promise<User | null> {
  return ctx.em.findOne(User, { name });
}

export async function getUser(ctx: DomainContext, id: number): Promise<User> {
  const user = await ctx.em.findOne(User, { id });
  if (!user) throw new NotFoundError('user', String(id));
  return user;
}

export async function listUsers(ctx: DomainContext, actor: Principal, filter: UserFilter, page: PageArgs): Promise<Page<Lean<User>>> {
  requireSuperUser(actor, 'list users');
  const where: FilterQuery<User> = {};
  if (filter.nameContains) where.name = { $like: `%${filter.nameContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
  if (filter.isSuperUser !== undefined && filter.isSuperUser !== null) where.isSuperUser = filter.isSuperUser;
  if (filter.disabled === true) where.disabledAt = { $ne: null };
  if (filter.disabled === false) where.disabledAt = null;
  return findLeanPage(ctx.em, User, where, 'id', 'number', page);
}

export async function setUserDisabled(ctx: DomainContext, actor: Principal, id: number, disabled: boolean): Promise<User> {
  requireSuperUser(actor, `${disabled ? 'disable' : 'enable'} users`);
  if (disabled && actor.user.id === id) throw new ValidationError('id', 'you cannot disable yourself');
  const user = await getUser(ctx, id);
  user.disabledAt = disabled ? (user.disabledAt ?? ctx.now()) : null;
  await commitWithChange(ctx, 'user', user.id);
  return user;
}

/** Deletes a user and (by cascade) their tokens; clusters they created keep existing without a creator. */
export async function deleteUser(ctx: DomainContext, actor: Principal, id: number): Promise<User> {
  requireSuperUser(actor, 'delete users');
  if (actor.user.id === id) throw new ValidationError('id', 'you cannot delete yourself');
  const user = await getUser(ctx, id);
  ctx.em.remove(user);
  await commitWithChange(ctx, 'user', id);
  return user;
}
