import { Entity, Index, ManyToOne, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { User } from './user.entity';

/**
 * `session` tokens come from bootstrap and admin helpers; `plain` from the original's token routes;
 * `kubeconfig` from the kubeconfig mutation and client_credentials.
 */
export type ApiTokenType = 'session' | 'plain' | 'kubeconfig';

/** The token itself is never stored: only its SHA-256 digest, by which it is looked up. */
@Entity({ tableName: 'api_tokens' })
export class ApiToken {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade' })
  user!: Ref<User>;

  @Property({ type: 'string', length: 128 })
  name!: string;

  @Property({ type: 'string', length: 16 })
  type!: ApiTokenType;

  @Property({ type: 'string', length: 64, unique: true })
  digest!: string;

  /** Prefix and last four characters, to tell tokens apart in listings. */
  @Property({ type: 'string', length: 16 })
  hint!: string;

  @Index()
  @Property({ type: 'datetime', length: 3 })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', length: 3, nullable: true })
  expiresAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  lastUsedAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  revokedAt?: Date | null;
}
