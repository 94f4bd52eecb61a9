import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { AdmissionWebhookConfigurationView } from '../../domain/admission-webhooks';
import type { AdmissionWebhookSpec } from '../../store/entities';

/** Enum values equal the stored strings, so mapping is a cast. */
export enum AdmissionOperationKind {
  CREATE = 'Create',
  UPDATE = 'Update',
}
registerEnumType(AdmissionOperationKind, { name: 'AdmissionOperation', description: 'The Mesos write a configuration applies to: CREATE = POST, UPDATE = PUT.' });

export enum AdmissionResourceKindEnum {
  APPLICATION = 'application',
  DEPLOYMENT = 'deployment',
}
registerEnumType(AdmissionResourceKindEnum, { name: 'AdmissionResourceKind', description: 'The Mesos resource kind a configuration applies to.' });

export enum WebhookFailurePolicyKind {
  FAIL = 'Fail',
  IGNORE = 'Ignore',
}
registerEnumType(WebhookFailurePolicyKind, {
  name: 'WebhookFailurePolicy',
  description: 'What a failed call (error status, timeout, invalid response, TLS failure) does: FAIL rejects the write, IGNORE continues with the body unchanged.',
});

export enum NamespaceSelectorOperatorKind {
  IN = 'In',
  NOT_IN = 'NotIn',
}
registerEnumType(NamespaceSelectorOperatorKind, { name: 'NamespaceSelectorOperator' });

@ObjectType('AdmissionMetadataEntry', { description: 'One label or annotation.' })
export class AdmissionMetadataEntryObject {
  @Field()
  key!: string;

  @Field()
  value!: string;
}

@ObjectType('AdmissionWebhookService', { description: 'Called at https://<name>.<namespace>:<port><path>.' })
export class AdmissionWebhookServiceObject {
  @Field()
  name!: string;

  @Field()
  namespace!: string;

  @Field(() => Int)
  port!: number;

  @Field()
  path!: string;
}

@ObjectType('AdmissionWebhookClientConfig')
export class AdmissionWebhookClientConfigObject {
  @Field(() => String, { nullable: true })
  url!: string | null;

  @Field(() => AdmissionWebhookServiceObject, { nullable: true })
  service!: AdmissionWebhookServiceObject | null;

  @Field({ description: "Base64 of the PEM CA certificate(s) the webhook's serving certificate must chain to." })
  caBundle!: string;
}

@ObjectType('AdmissionNamespaceSelector', { description: "Applied to the resource's metadata.namespace." })
export class AdmissionNamespaceSelectorObject {
  @Field(() => NamespaceSelectorOperatorKind)
  operator!: NamespaceSelectorOperatorKind;

  @Field(() => [String])
  values!: string[];
}

@ObjectType('AdmissionWebhook')
export class AdmissionWebhookObject {
  @Field()
  name!: string;

  @Field(() => WebhookFailurePolicyKind)
  failurePolicy!: WebhookFailurePolicyKind;

  @Field(() => AdmissionWebhookClientConfigObject)
  clientConfig!: AdmissionWebhookClientConfigObject;

  @Field(() => AdmissionNamespaceSelectorObject, { nullable: true })
  namespaceSelector!: AdmissionNamespaceSelectorObject | null;

  @Field(() => Int)
  timeoutSeconds!: number;

  static from(w: AdmissionWebhookSpec): AdmissionWebhookObject {
    const svc = w.clientConfig.service;
    return Object.assign(new AdmissionWebhookObject(), {
      name: w.name,
      failurePolicy: w.failurePolicy as WebhookFailurePolicyKind,
      clientConfig: Object.assign(new AdmissionWebhookClientConfigObject(), {
        url: w.clientConfig.url ?? null,
        service: svc ? Object.assign(new AdmissionWebhookServiceObject(), svc) : null,
        caBundle: w.clientConfig.caBundle,
      }),
      namespaceSelector: w.namespaceSelector
        ? Object.assign(new AdmissionNamespaceSelectorObject(), {
            operator: w.namespaceSelector.operator as NamespaceSelectorOperatorKind,
            values: w.namespaceSelector.values,
          })
        : null,
      timeoutSeconds: w.timeoutSeconds,
    });
  }
}

function entries(map: Record<string, string> | null): AdmissionMetadataEntryObject[] {
  return Object.entries(map ?? {}).map(([key, value]) => Object.assign(new AdmissionMetadataEntryObject(), { key, value }));
}

@ObjectType('AdmissionWebhookConfiguration', {
  description: 'Webhooks run, in order, over Mesos application/deployment writes that pass through the gateway (at most one configuration per operation and kind).',
})
export class AdmissionWebhookConfigurationObject {
  @Field()
  name!: string;

  @Field()
  namespace!: string;

  @Field(() => AdmissionOperationKind)
  operation!: AdmissionOperationKind;

  @Field(() => AdmissionResourceKindEnum)
  kind!: AdmissionResourceKindEnum;

  @Field(() => [AdmissionWebhookObject], { description: 'Called in this order; each successful response replaces the body the next one sees.' })
  webhooks!: AdmissionWebhookObject[];

  @Field(() => [AdmissionMetadataEntryObject])
  labels!: AdmissionMetadataEntryObject[];

  @Field(() => [AdmissionMetadataEntryObject])
  annotations!: AdmissionMetadataEntryObject[];

  @Field(() => Int, { description: 'Pass as expectedVersion when updating; it changes on every update.' })
  version!: number;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  static from(view: AdmissionWebhookConfigurationView): AdmissionWebhookConfigurationObject {
    return Object.assign(new AdmissionWebhookConfigurationObject(), {
      name: view.name,
      namespace: view.namespace,
      operation: view.operation as AdmissionOperationKind,
      kind: view.kind as AdmissionResourceKindEnum,
      webhooks: view.webhooks.map((w) => AdmissionWebhookObject.from(w)),
      labels: entries(view.labels),
      annotations: entries(view.annotations),
      version: view.version,
      createdAt: view.createdAt,
      updatedAt: view.updatedAt,
    });
  }
}
