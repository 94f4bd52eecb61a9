import { ArrayMaxSize } from 'class-validator';
import { Field, InputType, Int } from 'type-graphql';
import {
  AdmissionOperationKind,
  AdmissionResourceKindEnum,
  NamespaceSelectorOperatorKind,
  WebhookFailurePolicyKind,
} from '../types/admission-webhook.type';

/** Shapes only; names, URLs, CA bundles, timeouts and uniqueness are checked by the domain, which every edge shares. */
@InputType()
export class AdmissionMetadataEntryInput {
  @Field()
  key!: string;

  @Field()
  value!: string;
}

@InputType()
export class AdmissionWebhookServiceInput {
  @Field()
  name!: string;

  @Field()
  namespace!: string;

  @Field(() => Int, { nullable: true, description: '443 when omitted.' })
  port?: number | null;

  @Field(() => String, { nullable: true, description: "'/' when omitted." })
  path?: string | null;
}

@InputType()
export class AdmissionWebhookClientConfigInput {
  @Field(() => String, { nullable: true, description: 'An https URL; give either this or service.' })
  url?: string | null;

  @Field(() => AdmissionWebhookServiceInput, { nullable: true })
  service?: AdmissionWebhookServiceInput | null;

  @Field({ description: 'Base64 of PEM CA certificate(s); the webhook is always called over TLS verified against them.' })
  caBundle!: string;
}

@InputType()
export class AdmissionNamespaceSelectorInput {
  @Field(() => NamespaceSelectorOperatorKind)
  operator!: NamespaceSelectorOperatorKind;

  @Field(() => [String])
  @ArrayMaxSize(1000)
  values!: string[];
}

@InputType()
export class AdmissionWebhookInput {
  @Field({ description: 'Unique within the configuration.' })
  name!: string;

  @Field(() => WebhookFailurePolicyKind, { nullable: true, description: 'FAIL when omitted.' })
  failurePolicy?: WebhookFailurePolicyKind | null;

  @Field(() => AdmissionWebhookClientConfigInput)
  clientConfig!: AdmissionWebhookClientConfigInput;

  @Field(() => AdmissionNamespaceSelectorInput, { nullable: true, description: 'All namespaces when omitted.' })
  namespaceSelector?: AdmissionNamespaceSelectorInput | null;

  @Field(() => Int, { nullable: true, description: '1-30 seconds; 10 when omitted.' })
  timeoutSeconds?: number | null;
}

@InputType()
export class CreateAdmissionWebhookConfigurationInput {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true, description: "'bkbcs' (the original's namespace) when omitted." })
  namespace?: string | null;

  @Field(() => AdmissionOperationKind)
  operation!: AdmissionOperationKind;

  @Field(() => AdmissionResourceKindEnum)
  kind!: AdmissionResourceKindEnum;

  @Field(() => [AdmissionWebhookInput])
  @ArrayMaxSize(32)
  webhooks!: AdmissionWebhookInput[];

  @Field(() => [AdmissionMetadataEntryInput], { nullable: true })
  @ArrayMaxSize(100)
  labels?: AdmissionMetadataEntryInput[] | null;

  @Field(() => [AdmissionMetadataEntryInput], { nullable: true })
  @ArrayMaxSize(100)
  annotations?: AdmissionMetadataEntryInput[] | null;
}

/** Omitted fields keep their value; labels and annotations, when given, replace the old ones. */
@InputType()
export class UpdateAdmissionWebhookConfigurationInput {
  @Field(() => String, { nullable: true })
  namespace?: string | null;

  @Field(() => AdmissionOperationKind, { nullable: true })
  operation?: AdmissionOperationKind | null;

  @Field(() => AdmissionResourceKindEnum, { nullable: true })
  kind?: AdmissionResourceKindEnum | null;

  @Field(() => [AdmissionWebhookInput], { nullable: true })
  @ArrayMaxSize(32)
  webhooks?: AdmissionWebhookInput[] | null;

  @Field(() => [AdmissionMetadataEntryInput], { nullable: true })
  @ArrayMaxSize(100)
  labels?: AdmissionMetadataEntryInput[] | null;

  @Field(() => [AdmissionMetadataEntryInput], { nullable: true })
  @ArrayMaxSize(100)
  annotations?: AdmissionMetadataEntryInput[] | null;
}
