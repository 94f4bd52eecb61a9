import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** A role template added by a super user (the six built-in ones live in code). Rules are a JSON array of PolicyRules. */
@Entity({ tableName: 'rbac_templates' })
export class RbacTemplate {
  /** Bare name; the ClusterRole is `bke-<name>`. */
  @PrimaryKey({ type: 'string', length: 58 })
  name!: string;

  @Property({ type: 'text' })
  rules!: string;

  @Property({ type: 'string', length: 128, nullable: true })
  createdBy?: string | null;

  @Property({ type: 'integer', version: true })
  version!: number;

  @Property({ type: 'datetime', length: 3 })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', length: 3, onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
