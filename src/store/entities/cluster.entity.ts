import { Entity, Index, ManyToOne, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { User } from './user.entity';

export type ClusterType = 'k8s' | 'mesos' | 'tke';
/** The original's providers: `plain` clusters from POST /rest/clusters/, `bcs` ones from /rest/clusters/bcs. */
export type ClusterProvider = 'plain' | 'bcs';

@Entity({ tableName: 'clusters' })
export class Cluster {
  /** As given by the creator, e.g. `BCS-K8S-001`. */
  @PrimaryKey({ type: 'string', length: 100 })
  id!: string;

  /** Stable, unguessable name used in tunnel paths (`lower(id)-<16 random>`), as the original made it. */
  @Property({ type: 'string', length: 128, unique: true })
  identifier!: string;

  @Property({ type: 'string', length: 16 })
  provider!: ClusterProvider;

  @Property({ type: 'string', length: 16 })
  clusterType!: ClusterType;

  @Property({ type: 'string', length: 64, nullable: true })
  projectId?: string | null;

  @Property({ type: 'string', length: 100, nullable: true })
  tkeClusterId?: string | null;

  @Property({ type: 'string', length: 100, nullable: true })
  tkeClusterRegion?: string | null;

  @ManyToOne(() => User, { ref: true, nullable: true, deleteRule: 'set null' })
  creator?: Ref<User> | null;

  @Index()
  @Property({ type: 'datetime', length: 3 })
  createdAt: Date = new Date();
}
