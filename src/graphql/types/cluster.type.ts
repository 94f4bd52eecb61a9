import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { Cluster } from '../../store/entities';
import type { Lean } from '../../store/lean';
import { ConnectionType } from './connection';

/** Values equal the stored strings, so mapping is a cast. */
export enum ClusterKind {
  K8S = 'k8s',
  MESOS = 'mesos',
  TKE = 'tke',
}
registerEnumType(ClusterKind, { name: 'ClusterType' });

export enum ClusterProviderKind {
  PLAIN = 'plain',
  BCS = 'bcs',
}
registerEnumType(ClusterProviderKind, { name: 'ClusterProvider', description: 'Which of the original REST routes registered the cluster.' });

/**
 * `simpleResolvers` (here and on the other row types: User, the statuses, edges, PageInfo): plain
 * fields use graphql-js's default resolver instead of a type-graphql wrapper per field per row. Only
 * for types whose plain fields carry no role or middleware; field resolvers are unaffected.
 */
@ObjectType('Cluster', { simpleResolvers: true, description: 'A cluster reachable through the gateway. Its service-account token and CA never leave through this API.' })
export class ClusterObject {
  @Field(() => ID, { description: 'As chosen by its creator, e.g. BCS-K8S-001.' })
  id!: string;

  @Field({ description: 'Unguessable name used in tunnel paths (/tunnels/clusters/<identifier>).' })
  identifier!: string;

  @Field(() => ClusterProviderKind)
  provider!: ClusterProviderKind;

  @Field(() => ClusterKind)
  clusterType!: ClusterKind;

  @Field(() => String, { nullable: true })
  projectId!: string | null;

  @Field(() => String, { nullable: true })
  tkeClusterId!: string | null;

  @Field(() => String, { nullable: true })
  tkeClusterRegion!: string | null;

  @Field()
  createdAt!: Date;

  /** Resolved to `creator` through the per-request loader. */
  creatorId!: number | null;

  static from(cluster: Cluster): ClusterObject {
    return ClusterObject.fromRow({ ...fieldsOf(cluster), creator: cluster.creator?.id ?? null });
  }

  static fromRow(cluster: Lean<Cluster>): ClusterObject {
    return Object.assign(new ClusterObject(), {
      id: cluster.id,
      identifier: cluster.identifier,
      provider: cluster.provider as ClusterProviderKind,
      clusterType: cluster.clusterType as ClusterKind,
      projectId: cluster.projectId ?? null,
      tkeClusterId: cluster.tkeClusterId ?? null,
      tkeClusterRegion: cluster.tkeClusterRegion ?? null,
      createdAt: cluster.createdAt,
      creatorId: cluster.creator ?? null,
    });
  }
}

function fieldsOf(c: Cluster): Omit<Lean<Cluster>, 'creator'> {
  const { id, identifier, provider, clusterType, projectId, tkeClusterId, tkeClusterRegion, createdAt } = c;
  return { id, identifier, provider, clusterType, projectId, tkeClusterId, tkeClusterRegion, createdAt };
}

@ObjectType()
export class ClusterConnection extends ConnectionType(ClusterObject, 'Cluster') {}
