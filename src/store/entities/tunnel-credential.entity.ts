import { Entity, OneToOne, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { Cluster } from './cluster.entity';

/**
 * What a cluster's agent brought when it opened a reverse tunnel (the original's `ws_cluster_credentials`):
 * the apiserver address it dials for the gateway, the cluster CA and a service-account token, sealed like
 * reported credentials. Kept apart from `cluster_credentials`, so a tunnel going away never removes what
 * a reporting agent stored; the row exists while the cluster has a tunnel and is deleted with its last one.
 */
@Entity({ tableName: 'tunnel_credentials' })
export class TunnelCredential {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @OneToOne(() => Cluster, { ref: true, owner: true, unique: true, deleteRule: 'cascade' })
  cluster!: Ref<Cluster>;

  @Property({ type: 'string', length: 255 })
  serverAddress!: string;

  @Property({ type: 'text' })
  caCertSealed!: string;

  @Property({ type: 'string', length: 95 })
  caFingerprint!: string;

  @Property({ type: 'text' })
  userTokenSealed!: string;

  /** Where the agent connected from. */
  @Property({ type: 'string', length: 64, nullable: true })
  agentAddress?: string | null;

  /** When the newest tunnel of the cluster connected. */
  @Property({ type: 'datetime', length: 3 })
  connectedAt: Date = new Date();

  /** The gateway process that stored the row (random per process), for operators reading the table. */
  @Property({ type: 'string', length: 32, nullable: true })
  ownerId?: string | null;

  /**
   * Refreshed periodically by every process holding a tunnel of the cluster. A row whose heartbeat is
   * old (or missing: written before heartbeats existed) belongs to a process that died without removing it.
   */
  @Property({ type: 'datetime', length: 3, nullable: true })
  heartbeatAt?: Date | null;
}
