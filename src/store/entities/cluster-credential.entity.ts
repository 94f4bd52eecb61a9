import { ArrayType, Entity, OneToOne, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { Cluster } from './cluster.entity';

/**
 * What a cluster's agent reported: apiserver addresses, CA and service-account token. CA and token are
 * sealed with the keyring; the CA fingerprint is kept in clear so status can be shown without decrypting.
 */
@Entity({ tableName: 'cluster_credentials' })
export class ClusterCredential {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @OneToOne(() => Cluster, { ref: true, owner: true, unique: true, deleteRule: 'cascade' })
  cluster!: Ref<Cluster>;

  /** Comma-joined text rather than JSON (see User.groups); addresses never contain commas. */
  @Property({ type: ArrayType, columnType: 'text' })
  serverAddresses: string[] = [];

  @Property({ type: 'text' })
  caCertSealed!: string;

  @Property({ type: 'string', length: 95 })
  caFingerprint!: string;

  @Property({ type: 'text' })
  userTokenSealed!: string;

  @Property({ type: 'string', length: 255, nullable: true })
  clusterDomain?: string | null;

  @Property({ type: 'string', length: 64, nullable: true })
  reporterAddress?: string | null;

  @Property({ type: 'datetime', length: 3 })
  reportedAt: Date = new Date();

  @Property({ type: 'datetime', length: 3 })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', length: 3, onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
