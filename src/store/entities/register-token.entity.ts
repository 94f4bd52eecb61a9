import { Entity, ManyToOne, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { Cluster } from './cluster.entity';
import { User } from './user.entity';

/**
 * Register tokens authorise a cluster's agent to report credentials. The secret is stored encrypted
 * (super users may read it back, as the original allows) and as a digest for constant-time checks.
 * `activeFor` holds the cluster id while the token is active and is NULL afterwards, so a plain unique
 * index enforces "one active token per cluster" on both MySQL and SQLite.
 */
@Entity({ tableName: 'register_tokens' })
export class RegisterToken {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @ManyToOne(() => Cluster, { ref: true, deleteRule: 'cascade' })
  cluster!: Ref<Cluster>;

  @Property({ type: 'string', length: 100, nullable: true, unique: true })
  activeFor?: string | null;

  @Property({ type: 'text' })
  tokenSealed!: string;

  @Property({ type: 'string', length: 64 })
  digest!: string;

  @ManyToOne(() => User, { ref: true, nullable: true, deleteRule: 'set null' })
  createdBy?: Ref<User> | null;

  @Property({ type: 'datetime', length: 3 })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', length: 3, nullable: true })
  expiresAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  revokedAt?: Date | null;
}
