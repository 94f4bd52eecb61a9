import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { RbacGrant } from '../../store/entities';
import { ConnectionType } from './connection';

/** Enum values equal the stored strings, so mapping is a cast. */
export enum GrantSubjectKindEnum {
  USER = 'User',
  GROUP = 'Group',
}
registerEnumType(GrantSubjectKindEnum, { name: 'RbacSubjectKind', description: 'USER: a gateway user name (mapped as the proxy impersonates it); GROUP: a group name as is.' });

export enum GrantScopeEnum {
  CLUSTER = 'cluster',
  NAMESPACE = 'namespace',
  ALL_NAMESPACES = 'all_namespaces',
}
registerEnumType(GrantScopeEnum, {
  name: 'RbacScope',
  description: 'CLUSTER and ALL_NAMESPACES become a ClusterRoleBinding (labelled differently); NAMESPACE a RoleBinding in that namespace.',
});

export enum GrantSourceEnum {
  GRAPHQL = 'graphql',
  CONFIG = 'config',
  SUBSCRIPTION = 'subscription',
}
registerEnumType(GrantSourceEnum, { name: 'RbacGrantSource', description: 'Only GRAPHQL grants can be deleted here; the others follow their source.' });

@ObjectType('RbacGrant', { description: 'A permission: subject, cluster (or every cluster), scope and role template.' })
export class RbacGrantObject {
  @Field(() => Int)
  id!: number;

  @Field(() => GrantSubjectKindEnum)
  subjectKind!: GrantSubjectKindEnum;

  @Field({ description: 'As the gateway knows it; bindings name the user as the proxy impersonates it (plain:alice → plain.alice).' })
  subjectName!: string;

  @Field({ description: 'The name inside clusters.' })
  kubernetesSubject!: string;

  @Field(() => String, { nullable: true, description: 'Null: every cluster.' })
  clusterId!: string | null;

  @Field(() => GrantScopeEnum)
  scope!: GrantScopeEnum;

  @Field(() => String, { nullable: true })
  namespace!: string | null;

  @Field({ description: 'Template name; the ClusterRole is bke-<template>.' })
  template!: string;

  @Field(() => GrantSourceEnum)
  source!: GrantSourceEnum;

  @Field({ description: 'False when its source is switched off (turn_on_conf / turn_on_auth): kept, but not applied.' })
  active!: boolean;

  @Field({ description: 'True only for GRAPHQL grants.' })
  editable!: boolean;

  @Field(() => String, { nullable: true, description: 'A gateway user name, "config", or the subscription delivery.' })
  grantedBy!: string | null;

  @Field()
  createdAt!: Date;

  static from(row: RbacGrant, activeSources: ReadonlySet<string>, k8sName: string): RbacGrantObject {
    return Object.assign(new RbacGrantObject(), {
      id: row.id,
      subjectKind: row.subjectKind as GrantSubjectKindEnum,
      subjectName: row.subjectName,
      kubernetesSubject: k8sName,
      clusterId: row.clusterId ?? null,
      scope: row.scope as GrantScopeEnum,
      namespace: row.namespace ?? null,
      template: row.template,
      source: row.source as GrantSourceEnum,
      active: activeSources.has(row.source),
      editable: row.source === 'graphql',
      grantedBy: row.grantedBy ?? null,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType()
export class RbacGrantConnection extends ConnectionType(RbacGrantObject, 'RbacGrant') {}
