import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { User } from '../../store/entities';
import { ConnectionType } from './connection';

/** Values equal the stored `UserType` strings, so mapping is a cast. */
export enum UserKind {
  ADMIN = 'admin',
  SAAS = 'saas',
  PLAIN = 'plain',
}
registerEnumType(UserKind, { name: 'UserType', description: "The original user manager's user kinds; ADMIN users are super users." });

/** What a user is shown as; an entity and a lean row both have it. */
export type UserFields = Pick<User, 'id' | 'name' | 'userType' | 'isSuperUser' | 'groups' | 'createdAt' | 'updatedAt' | 'disabledAt'>;

@ObjectType('User', { simpleResolvers: true, description: 'Someone who calls the gateway with API tokens.' })
export class UserObject {
  @Field(() => Int)
  id!: number;

  @Field()
  name!: string;

  @Field(() => UserKind)
  userType!: UserKind;

  @Field({ description: 'Super users manage users, clusters and their secrets.' })
  isSuperUser!: boolean;

  @Field(() => [String])
  groups!: string[];

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'Set while the user is disabled; their tokens stop working.' })
  disabledAt!: Date | null;

  /** From an entity or a plain row (the fields are the same). */
  static from(user: UserFields): UserObject {
    return Object.assign(new UserObject(), {
      id: user.id,
      name: user.name,
      userType: user.userType as UserKind,
      isSuperUser: user.isSuperUser,
      groups: user.groups,
      createdAt: user.createdAt,
      updatedAt: user.updatedAt,
      disabledAt: user.disabledAt ?? null,
    });
  }
}

@ObjectType()
export class UserConnection extends ConnectionType(UserObject, 'User') {}
