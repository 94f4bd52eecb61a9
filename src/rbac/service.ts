import fs from 'node:fs';
import type { Registry } from 'prom-client';
import { activeGrantSources, applySubscriptionEvent, replaceConfigGrants } from '../domain/rbac-grants';
import { readSyncStatus } from '../domain/rbac-sync-status';
import type { ChangeSignal } from '../domain/change-signal';
import { UnavailableError } from '../errors';
import type { RbacAccess } from './access';
import type { Runtime } from '../runtime';
import type { TunnelRoutes } from '../tunnel/routes';
import { RbacMetrics } from './metrics';
import { RbacReconciler } from './reconciler';
import { RbacSubscription, subscriptionUrl, type AuthRbacData } from './subscription';

export interface RbacSync {
  access: RbacAccess;
  reconciler?: RbacReconciler;
  subscription?: RbacSubscription;
  stop(): Promise<void>;
}

/**
 * RBAC's sources and sync for one API process: the config file's grants (`turn_on_conf`), the
 * permission subscription (`turn_on_auth`), and the reconciler that pushes grants to clusters.
 */
export async function startRbacSync(rt: Runtime, registry: Registry, tunnels?: TunnelRoutes, changeSignal?: ChangeSignal): Promise<RbacSync> {
  const { rbac } = rt.config;
  const sources = activeGrantSources(rbac);
  const log = rt.logger.child({ component: 'rbac' });

  if (rbac.turnOnConf) {
    const outcome = await replaceConfigGrants(rt.context(), rbac.rbacData);
    for (const problem of outcome.problems) log.warn(problem);
    if (outcome.added || outcome.removed) log.info({ added: outcome.added, removed: outcome.removed }, 'config-file grants (rbac_data) updated');
  }

  const reconciler = rbac.syncEnabled ? new RbacReconciler(rt, { intervalMs: rbac.reconcileIntervalSeconds * 1000, sources, metrics: new RbacMetrics(registry), tunnels, changeSignal }) : undefined;
  await reconciler?.start();

  let subscription: RbacSubscription | undefined;
  if (rbac.turnOnAuth && rbac.subscription) {
    const { url, insecure } = subscriptionUrl(rbac.subscription.url);
    if (insecure) log.warn({ url }, 'the permission subscription uses plain ws://: its credentials and grants travel unencrypted; use wss://');
    subscription = new RbacSubscription({
      url,
      appCode: rbac.subscription.appCode,
      appSecret: rbac.subscription.appSecret,
      ca: rbac.subscription.caFile ? fs.readFileSync(rbac.subscription.caFile) : undefined,
      logger: rt.logger,
      apply: (event, meta) => applyEvent(rt, reconciler, event, `subscription worker ${meta.workerId} data ${meta.dataId}`),
    });
    subscription.start();
  }

  return {
    access: {
      activeSources: new Set(sources),
      control: () => {
        if (!reconciler) throw new UnavailableError('this gateway process does not sync RBAC (rbac.sync_enabled is off)');
        return reconciler;
      },
      subscription: () => subscription?.status() ?? null,
    },
    reconciler,
    subscription,
    stop: async () => {
      await subscription?.stop();
      await reconciler?.stop();
    },
  };
}

/**
 * Stores the event's grant change, then syncs the clusters it touches; throws unless every one of them
 * applied cleanly, so the frame is acked only after a successful apply (the permission service resends).
 * A cluster without credentials yet counts as applied: its grants are pushed when its agent reports.
 */
async function applyEvent(rt: Runtime, reconciler: RbacReconciler | undefined, event: AuthRbacData, grantedBy: string): Promise<void> {
  const ctx = rt.context();
  const outcome = await applySubscriptionEvent(ctx, event, grantedBy);
  if ('skipped' in outcome || !reconciler) return;
  let clusters = outcome.clusters;
  if (clusters === '*') clusters = await reconciler.pushableClusters();
  await Promise.all(clusters.map((id) => reconciler.request(id, 'subscription', 0)));
  const failed: string[] = [];
  for (const id of clusters) {
    const status = await readSyncStatus(rt.orm.em.fork(), id);
    if (status.result === 'failed' || status.result === 'partial') failed.push(`${id}: ${status.lastError ?? status.result}`);
  }
  if (failed.length) throw new Error(`not applied in ${failed.length} cluster(s): ${failed.join('; ')}`);
}
