import { Entity, ManyToOne, PrimaryKey, type Ref } from '@mikro-orm/core';
import { Cluster } from './cluster.entity';

/**
 * Cluster ids and tunnel identifiers are one namespace: a tunnel path names a cluster by either, so an id
 * equal to another cluster's identifier (or id, in another case) would make the path ambiguous. Each
 * cluster owns two rows, its lower-cased id and identifier, written in the flush that creates it; the
 * primary key refuses a second owner on both databases, whatever their collation.
 */
@Entity({ tableName: 'cluster_keys' })
export class ClusterKey {
  /** Lower-cased cluster id or identifier (identifiers are at most 128 characters, ids 100). */
  @PrimaryKey({ type: 'string', length: 128 })
  key!: string;

  @ManyToOne(() => Cluster, { ref: true, deleteRule: 'cascade' })
  cluster!: Ref<Cluster>;
}
