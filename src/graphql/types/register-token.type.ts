import { Field, ID, ObjectType } from 'type-graphql';
import type { RegisterTokenView } from '../../domain/register-tokens';

@ObjectType('RegisterTokenSecret', { description: "A cluster's active register token with its secret, for installing the cluster's agent." })
export class RegisterTokenSecretObject {
  @Field(() => ID)
  clusterId!: string;

  @Field({ description: 'The agent presents this when it reports credentials.' })
  secret!: string;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  static from(view: RegisterTokenView): RegisterTokenSecretObject {
    return Object.assign(new RegisterTokenSecretObject(), {
      clusterId: view.token.cluster.id,
      secret: view.secret,
      createdAt: view.token.createdAt,
      expiresAt: view.token.expiresAt ?? null,
    });
  }
}
