import { Field, ObjectType } from 'type-graphql';
import type { CredentialStatus, RegisterTokenStatus } from '../../domain/batch';

@ObjectType('RegisterTokenStatus', { description: "The cluster's current register token, without its secret." })
export class RegisterTokenStatusObject {
  @Field({ description: 'False once expired.' })
  active!: boolean;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  static from(status: RegisterTokenStatus): RegisterTokenStatusObject {
    return Object.assign(new RegisterTokenStatusObject(), { active: status.active, createdAt: status.createdAt, expiresAt: status.expiresAt });
  }
}

@ObjectType('CredentialStatus', { description: "What the cluster's agent last reported, minus the CA and token themselves." })
export class CredentialStatusObject {
  @Field(() => [String])
  serverAddresses!: string[];

  @Field()
  reportedAt!: Date;

  @Field({ description: 'SHA-256 fingerprint of the reported CA certificate.' })
  caFingerprint!: string;

  @Field(() => String, { nullable: true, description: 'Network address the report came from.' })
  reporterAddress!: string | null;

  static from(status: CredentialStatus): CredentialStatusObject {
    return Object.assign(new CredentialStatusObject(), {
      serverAddresses: status.serverAddresses,
      reportedAt: status.reportedAt,
      caFingerprint: status.caFingerprint,
      reporterAddress: status.reporterAddress,
    });
  }
}
