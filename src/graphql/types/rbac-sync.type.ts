import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { RbacChanges, RbacFailure, RbacObjectRef, RbacSyncStatusView } from '../../domain/rbac-sync-status';
import type { RbacDryRun } from '../../rbac/reconciler';
import type { RbacSubscriptionStatus } from '../../rbac/subscription';

export enum SyncResultEnum {
  OK = 'ok',
  PARTIAL = 'partial',
  FAILED = 'failed',
  SKIPPED = 'skipped',
}
registerEnumType(SyncResultEnum, {
  name: 'RbacSyncResult',
  description: 'PARTIAL: some operations failed (see failures); FAILED: the cluster could not be read; SKIPPED: no credentials yet.',
});

@ObjectType('RbacObjectRef')
export class RbacObjectRefObject {
  @Field()
  kind!: string;

  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  namespace!: string | null;

  static from(r: RbacObjectRef): RbacObjectRefObject {
    return Object.assign(new RbacObjectRefObject(), { kind: r.kind, name: r.name, namespace: r.namespace ?? null });
  }
}

@ObjectType('RbacFailure')
export class RbacFailureObject {
  @Field()
  op!: string;

  @Field(() => RbacObjectRefObject)
  target!: RbacObjectRefObject;

  @Field()
  message!: string;

  static from(f: RbacFailure): RbacFailureObject {
    return Object.assign(new RbacFailureObject(), { op: f.op, target: RbacObjectRefObject.from(f.target), message: f.message });
  }
}

@ObjectType('RbacChanges', { description: 'What one sync changed in the cluster.' })
export class RbacChangesObject {
  @Field(() => [String])
  rolesCreated!: string[];

  @Field(() => [String])
  rolesUpdated!: string[];

  @Field(() => [RbacObjectRefObject])
  created!: RbacObjectRefObject[];

  @Field(() => [RbacObjectRefObject])
  removed!: RbacObjectRefObject[];

  static from(c: RbacChanges): RbacChangesObject {
    return Object.assign(new RbacChangesObject(), { rolesCreated: c.rolesCreated, rolesUpdated: c.rolesUpdated, created: c.created.map(RbacObjectRefObject.from), removed: c.removed.map(RbacObjectRefObject.from) });
  }
}

@ObjectType('RbacSyncStatus', { description: "One cluster's RBAC sync: the last attempt, and the last one that changed something." })
export class RbacSyncStatusObject {
  @Field()
  clusterId!: string;

  @Field(() => SyncResultEnum, { nullable: true, description: 'Null: never synced.' })
  result!: SyncResultEnum | null;

  @Field(() => String, { nullable: true, description: 'grant-change, periodic, manual, retry, startup, credentials, tunnel (an agent tunnel connected) or subscription.' })
  trigger!: string | null;

  @Field(() => Date, { nullable: true })
  lastAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastSuccessAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'The API server address used.' })
  server!: string | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => [RbacFailureObject], { description: 'Operations of the last attempt that failed (the others were applied).' })
  failures!: RbacFailureObject[];

  @Field(() => Int)
  consecutiveFailures!: number;

  @Field(() => Date, { nullable: true })
  nextRetryAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastChangedAt!: Date | null;

  @Field(() => RbacChangesObject, { nullable: true, description: 'What the sync at lastChangedAt created, updated and removed.' })
  lastChanges!: RbacChangesObject | null;

  static from(v: RbacSyncStatusView): RbacSyncStatusObject {
    return Object.assign(new RbacSyncStatusObject(), {
      ...v,
      result: v.result as SyncResultEnum | null,
      failures: v.failures.map(RbacFailureObject.from),
      lastChanges: v.lastChanges ? RbacChangesObject.from(v.lastChanges) : null,
    });
  }
}

@ObjectType('RbacPlannedBinding')
export class RbacPlannedBindingObject {
  @Field()
  kind!: string;

  @Field(() => String, { nullable: true })
  namespace!: string | null;

  @Field()
  subjectKind!: string;

  @Field()
  subjectName!: string;

  @Field()
  roleName!: string;
}

@ObjectType('RbacPlannedRemoval')
export class RbacPlannedRemovalObject {
  @Field()
  kind!: string;

  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  namespace!: string | null;

  @Field({ description: 'not-granted, duplicate or malformed.' })
  reason!: string;
}

@ObjectType('RbacPlannedRole')
export class RbacPlannedRoleObject {
  @Field({ description: 'create, update or delete.' })
  action!: string;

  @Field()
  roleName!: string;

  @Field({ description: 'missing, rules-drift, unlabelled, or template-deleted (the ClusterRole of a deleted custom template).' })
  reason!: string;
}

@ObjectType('RbacDryRun', { description: 'What a sync of the cluster would do now. Nothing is applied.' })
export class RbacDryRunObject {
  @Field()
  clusterId!: string;

  @Field()
  server!: string;

  @Field(() => [RbacPlannedRoleObject])
  roles!: RbacPlannedRoleObject[];

  @Field(() => [RbacPlannedBindingObject])
  create!: RbacPlannedBindingObject[];

  @Field(() => [RbacPlannedRemovalObject])
  remove!: RbacPlannedRemovalObject[];

  static from(d: RbacDryRun): RbacDryRunObject {
    return Object.assign(new RbacDryRunObject(), {
      clusterId: d.clusterId,
      server: d.server,
      roles: [
        ...d.plan.ensureRoles.map((r) => Object.assign(new RbacPlannedRoleObject(), { action: r.action, roleName: r.role.metadata?.name ?? '', reason: r.reason })),
        ...d.plan.removeRoles.map((r) => Object.assign(new RbacPlannedRoleObject(), { action: 'delete', roleName: r.name, reason: r.reason })),
      ],
      create: d.plan.create.map((b) =>
        Object.assign(new RbacPlannedBindingObject(), {
          kind: b.kind,
          namespace: b.kind === 'RoleBinding' ? b.namespace : null,
          subjectKind: b.body.subjects?.[0]?.kind ?? '',
          subjectName: b.body.subjects?.[0]?.name ?? '',
          roleName: b.body.roleRef.name,
        }),
      ),
      remove: d.plan.remove.map((r) => Object.assign(new RbacPlannedRemovalObject(), { kind: r.kind, name: r.name, namespace: r.namespace ?? null, reason: r.reason })),
    });
  }
}

export enum SubscriptionStateEnum {
  CONNECTING = 'connecting',
  CONNECTED = 'connected',
  BACKOFF = 'backoff',
  STOPPED = 'stopped',
}
registerEnumType(SubscriptionStateEnum, { name: 'RbacSubscriptionState' });

@ObjectType('RbacSubscriptionStatus', { description: "The permission service subscription (turn_on_auth) as this gateway process sees it." })
export class RbacSubscriptionStatusObject {
  @Field(() => SubscriptionStateEnum)
  state!: SubscriptionStateEnum;

  @Field({ description: 'Without credentials.' })
  url!: string;

  @Field(() => Date, { nullable: true })
  connectedSince!: Date | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Date, { nullable: true })
  lastAckAt!: Date | null;

  @Field(() => Int, { description: 'Data frames applied and acked.' })
  acked!: number;

  @Field(() => Int, { description: 'Data frames not acked: invalid, or not applied in every cluster.' })
  failed!: number;

  @Field(() => Int)
  reconnects!: number;

  static from(s: RbacSubscriptionStatus): RbacSubscriptionStatusObject {
    return Object.assign(new RbacSubscriptionStatusObject(), {
      ...s,
      state: s.state as SubscriptionStateEnum,
      connectedSince: s.connectedSince ?? null,
      lastError: s.lastError ?? null,
      lastAckAt: s.lastAckAt ?? null,
    });
  }
}
