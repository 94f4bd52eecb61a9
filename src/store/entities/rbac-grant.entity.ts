import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

export type GrantSubjectKind = 'User' | 'Group';
/** `all_namespaces` is the subscription's `namespace: "*"`: a ClusterRoleBinding, like `cluster`, labelled differently. */
export type GrantScopeKind = 'cluster' | 'namespace' | 'all_namespaces';
/** Where a grant came from; only `graphql` grants are edited through the API, the others follow their source. */
export type GrantSource = 'graphql' | 'config' | 'subscription';

/**
 * A permission grant: a subject (gateway user name or group), a cluster (NULL = every cluster), a scope
 * and a role template. `identity` is a digest of everything that makes two grants the same, so the
 * unique index works although several of those columns are nullable (NULLs never collide in MySQL).
 */
@Entity({ tableName: 'rbac_grants' })
@Index({ properties: ['clusterId'] })
export class RbacGrant {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Property({ type: 'string', length: 64, unique: true })
  identity!: string;

  @Property({ type: 'string', length: 8 })
  subjectKind!: GrantSubjectKind;

  /** As the gateway knows it (`plain:alice`, or a group); mapped to the cluster's name at sync time. */
  @Property({ type: 'string', length: 128 })
  subjectName!: string;

  @Property({ type: 'string', length: 100, nullable: true })
  clusterId?: string | null;

  @Property({ type: 'string', length: 16 })
  scope!: GrantScopeKind;

  @Property({ type: 'string', length: 63, nullable: true })
  namespace?: string | null;

  /** Bare template name (`workloads-view`); the ClusterRole is `bke-<template>`. */
  @Property({ type: 'string', length: 63 })
  template!: string;

  @Property({ type: 'string', length: 16 })
  source!: GrantSource;

  /** The `clusterrolebinding.from.bke.bcs` value new bindings get (the original's values; informational). */
  @Property({ type: 'string', length: 32, default: '' })
  fromLabel: string = '';

  /** Who granted it: a gateway user name, `config`, or the subscription's worker and data ids. */
  @Property({ type: 'string', length: 255, nullable: true })
  grantedBy?: string | null;

  @Property({ type: 'datetime', length: 3 })
  createdAt: Date = new Date();
}
