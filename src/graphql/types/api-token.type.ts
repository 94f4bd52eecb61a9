import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { ApiToken } from '../../store/entities';
import { ConnectionType } from './connection';

/** Values equal the stored `ApiTokenType` strings, so mapping is a cast. */
export enum ApiTokenKind {
  SESSION = 'session',
  PLAIN = 'plain',
  KUBECONFIG = 'kubeconfig',
}
registerEnumType(ApiTokenKind, { name: 'ApiTokenType' });

@ObjectType('ApiToken', { description: 'A bearer token. Only its hint is ever shown again after issue.' })
export class ApiTokenObject {
  @Field(() => Int)
  id!: number;

  @Field()
  name!: string;

  @Field(() => ApiTokenKind)
  type!: ApiTokenKind;

  @Field({ description: 'Prefix and last four characters, to tell tokens apart.' })
  hint!: string;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'Recorded at most once a minute.' })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;

  /** Resolved to `user` through the per-request loader. */
  userId!: number;

  static from(token: ApiToken): ApiTokenObject {
    return Object.assign(new ApiTokenObject(), {
      id: token.id,
      name: token.name,
      type: token.type as ApiTokenKind,
      hint: token.hint,
      createdAt: token.createdAt,
      expiresAt: token.expiresAt ?? null,
      lastUsedAt: token.lastUsedAt ?? null,
      revokedAt: token.revokedAt ?? null,
      userId: token.user.id,
    });
  }
}

@ObjectType()
export class ApiTokenConnection extends ConnectionType(ApiTokenObject, 'ApiToken') {}

@ObjectType('IssuedToken', { description: 'A new token and its secret. The secret is shown only here, once.' })
export class IssuedTokenObject {
  @Field(() => ApiTokenObject)
  token!: ApiTokenObject;

  @Field({ description: 'Send as `Authorization: Bearer <secret>`.' })
  secret!: string;
}
