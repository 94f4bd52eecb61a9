import type { RbacReconciler } from './reconciler';
import type { RbacSubscriptionStatus } from './subscription';

/** RBAC sync as resolvers reach it; `control()` throws UNAVAILABLE where this process does not sync (rbac.sync_enabled off). */
export interface RbacAccess {
  activeSources: ReadonlySet<string>;
  control(): Pick<RbacReconciler, 'syncNow' | 'dryRun'>;
  /** The permission subscription's connection, when `turn_on_auth` is on in this process. */
  subscription(): RbacSubscriptionStatus | null;
}
