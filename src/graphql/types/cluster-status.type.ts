import { Field, ObjectType, registerEnumType } from 'type-graphql';
import type { CredentialStatus, RegisterTokenStatus } from '../../domain/batch';
import type { TunnelStatus } from '../../domain/tunnel-credentials';

export enum ClusterReach {
  DIRECT = 'DIRECT',
  TUNNEL = 'TUNNEL',
}
registerEnumType(ClusterReach, {
  name: 'ClusterReach',
  description: 'How the gateway reaches the apiserver: by dialling a reported address, or through the reverse tunnel its agent opened (a live tunnel wins).',
});

@ObjectType('TunnelStatus', { simpleResolvers: true, description: "The cluster's agent tunnel while one is connected, minus the CA and token it brought." })
export class TunnelStatusObject {
  @Field({ description: 'When the newest tunnel of the cluster connected.' })
  connectedAt!: Date;

  @Field({ description: 'The apiserver address the agent dials for the gateway (https://host:port).' })
  apiserverAddress!: string;

  @Field(() => String, { nullable: true, description: 'Network address the agent connected from.' })
  agentAddress!: string | null;

  @Field({ description: 'SHA-256 fingerprint of the CA certificate the agent brought.' })
  caFingerprint!: string;

  static from(status: TunnelStatus): TunnelStatusObject {
    return Object.assign(new TunnelStatusObject(), status);
  }
}

@ObjectType('RegisterTokenStatus', { simpleResolvers: true, description: "The cluster's current register token, without its secret." })
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

@ObjectType('CredentialStatus', { simpleResolvers: true, description: "What the cluster's agent last reported, minus the CA and token themselves." })
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
