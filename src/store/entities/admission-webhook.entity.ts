import { Entity, PrimaryKey, Property, Unique } from '@mikro-orm/core';

/** The write a configuration applies to (the original's `resourcesRef.operation`). */
export type AdmissionOperation = 'Create' | 'Update';
/** The Mesos resource kinds a configuration applies to (the original's `resourcesRef.kind`). */
export type AdmissionResourceKind = 'application' | 'deployment';
export type WebhookFailurePolicy = 'Fail' | 'Ignore';
export type NamespaceSelectorOperator = 'In' | 'NotIn';

/** One webhook of a configuration, as stored (JSON) in `webhooks`. Validated by the domain before it is stored. */
export interface AdmissionWebhookSpec {
  name: string;
  failurePolicy: WebhookFailurePolicy;
  clientConfig: {
    /** Exactly one of `url` (https) and `service` is set. */
    url?: string;
    service?: { name: string; namespace: string; port: number; path: string };
    /** Base64 of one or more PEM certificates the webhook's serving certificate must chain to. */
    caBundle: string;
  };
  namespaceSelector?: { operator: NamespaceSelectorOperator; values: string[] };
  timeoutSeconds: number;
}

/**
 * A Mesos admission webhook configuration (the original's `AdmissionWebhookConfiguration` CRD). The
 * unique (operation, resource_kind) index enforces one configuration per write and kind. Webhooks,
 * labels and annotations are JSON strings in text columns: MariaDB has no native JSON type (see
 * User.groups). `version` is MikroORM's optimistic lock: every update is `... WHERE version = ?`.
 */
@Entity({ tableName: 'admission_webhook_configurations' })
@Unique({ properties: ['operation', 'resourceKind'] })
export class AdmissionWebhookConfiguration {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Property({ type: 'string', length: 128, unique: true })
  name!: string;

  @Property({ type: 'string', length: 128, default: 'bkbcs' })
  namespace: string = 'bkbcs';

  @Property({ type: 'string', length: 16 })
  operation!: AdmissionOperation;

  @Property({ type: 'string', length: 16 })
  resourceKind!: AdmissionResourceKind;

  /** JSON array of AdmissionWebhookSpec, in execution order. */
  @Property({ type: 'text' })
  webhooks!: string;

  /** JSON object of strings, or NULL. */
  @Property({ type: 'text', nullable: true })
  labels?: string | null;

  /** JSON object of strings, or NULL. */
  @Property({ type: 'text', nullable: true })
  annotations?: string | null;

  /** The original's `apiVersion`, echoed back on its routes. */
  @Property({ type: 'string', length: 64, nullable: true })
  apiVersion?: string | null;

  @Property({ type: 'integer', version: true })
  version!: number;

  @Property({ type: 'datetime', length: 3 })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', length: 3, onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
