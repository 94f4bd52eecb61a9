import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { ChangeFeedFollower } from '../domain/change-feed';
import type { ChangeSignal } from '../domain/change-signal';
import { findTunnelCredential } from '../domain/tunnel-credentials';
import { grantsForCluster, toPlannerGrant } from '../domain/rbac-grants';
import { claimSyncLease, readSyncStatus, recordSyncOutcome, type RbacChanges, type RbacSyncStatusView } from '../domain/rbac-sync-status';
import { loadCatalog } from '../domain/rbac-templates';
import { NotFoundError } from '../errors';
import type { DomainContext } from '../domain/context';
import type { Runtime } from '../runtime';
import { isStoreUnavailable } from '../store/outage';
import { Cluster, type GrantSource } from '../store/entities';
import type { TunnelRoutes } from '../tunnel/routes';
import { errMessage, RbacClient } from './apply';
import type { RbacMetrics } from './metrics';
import { planRbac, type RbacPlan } from './plan';
import { pushableClusters, transportFor, type Transport } from './transport';

export interface ReconcilerOptions {
  /** Full reconcile of every cluster, repairing drift (default 5 min). */
  intervalMs: number;
  /** Grant sources switched on; grants of the others stay stored but are not applied. */
  sources: readonly GrantSource[];
  /** Clusters synced at once, so one slow cluster never holds up the rest. */
  concurrency?: number;
  /** Per Kubernetes request. */
  requestTimeoutMs?: number;
  /** Grant changes within this window are applied together. */
  debounceMs?: number;
  /** Retry after a failed or partial sync: doubling from `initialMs` up to `maxMs`, with jitter. */
  backoff?: { initialMs: number; maxMs: number };
  /** How often other processes' grant changes are looked for in the change feed (without a working signal). */
  feedPollMs?: number;
  /** Other processes' changes announced through ZooKeeper: the feed is then read at once, and polled slowly. */
  changeSignal?: ChangeSignal;
  metrics?: RbacMetrics;
  /**
   * Agent tunnels this process holds: a cluster with one is pushed through it, with the credential it
   * brought (as the /tunnels proxy reaches it), even when it has no reported credential.
   */
  tunnels?: TunnelRoutes;
}

interface ClusterState {
  running?: Promise<void>;
  /** Asked for again while running: one more pass when this one ends. */
  again?: string;
  debounce?: NodeJS.Timeout;
  retry?: NodeJS.Timeout;
  waiters: (() => void)[];
}

/** What a dry run would do in one cluster, without doing it. */
export interface RbacDryRun {
  clusterId: string;
  server: string;
  plan: RbacPlan;
}

const LEASE_MS = 120_000;

/**
 * Keeps every cluster's RBAC equal to the grants: a sync per cluster when its grants change (debounced),
 * a periodic full reconcile that repairs drift, retries with backoff after failures, and a lease in the
 * store so several gateway replicas never push one cluster at once. Outcomes land in rbac_sync_status.
 */
export class RbacReconciler {
  private readonly states = new Map<string, ClusterState>();
  private readonly owner = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly slots: (() => void)[] = [];
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private feed: ChangeFeedFollower | undefined;
  private stopped = false;
  private readonly opts: Required<Omit<ReconcilerOptions, 'metrics' | 'tunnels' | 'changeSignal'>> & Pick<ReconcilerOptions, 'metrics' | 'tunnels' | 'changeSignal'>;

  constructor(
    private readonly rt: Runtime,
    opts: ReconcilerOptions,
  ) {
    this.opts = {
      concurrency: 4,
      requestTimeoutMs: 10_000,
      debounceMs: 200,
      backoff: { initialMs: 5_000, maxMs: 300_000 },
      feedPollMs: 1_000,
      ...opts,
    };
  }

  async start(): Promise<void> {
    this.feed = new ChangeFeedFollower(
      this.rt,
      (kind, key) => {
        if (kind === 'rbac') key === '*' ? void this.requestAll('grant-change') : this.request(key, 'grant-change');
        // A cluster's first (or new) credentials: its grants can be applied now.
        else if (kind === 'credential') void this.request(key, 'credentials');
      },
      { pollMs: this.opts.feedPollMs, signal: this.opts.changeSignal },
    );
    await this.feed.start();
    // A tunnel's credential row also announces a 'credential' change; this covers a tunnel whose row
    // another tunnel of the cluster already wrote (a replica, a reconnect), which announces nothing.
    this.opts.tunnels?.onChange((clusterId, connected) => {
      if (connected) void this.request(clusterId, 'tunnel');
    });
    this.timer = setInterval(() => void this.requestAll('periodic'), this.opts.intervalMs);
    this.timer.unref();
    void this.requestAll('startup');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.feed?.stop();
    if (this.timer) clearInterval(this.timer);
    for (const s of this.states.values()) {
      clearTimeout(s.debounce);
      clearTimeout(s.retry);
    }
    await Promise.allSettled([...this.states.values()].map((s) => s.running));
  }

  /** Every cluster that has credentials or a tunnel in this process (the others cannot be reached). */
  async requestAll(trigger: string): Promise<void> {
    try {
      for (const id of await this.pushableClusters()) void this.request(id, trigger);
    } catch (err) {
      if (!this.rt.storeHealth.report(err)) this.rt.logger.warn({ err, trigger }, 'RBAC sync: cannot list clusters; the next reconcile tries again');
    }
  }

  /** Clusters this process can push to: reported credentials, or a live tunnel here. */
  pushableClusters(): Promise<string[]> {
    return pushableClusters(this.rt, this.opts.tunnels);
  }

  /** Schedules a sync of one cluster; resolves once a sync that started after this call has ended. */
  request(clusterId: string, trigger: string, delayMs = this.opts.debounceMs): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const s = this.stateOf(clusterId);
    const done = new Promise<void>((resolve) => s.waiters.push(resolve));
    if (s.running) s.again = s.again ?? trigger;
    else if (!s.debounce) {
      s.debounce = setTimeout(() => {
        s.debounce = undefined;
        this.run(clusterId, trigger);
      }, delayMs);
      s.debounce.unref();
    }
    return done;
  }

  /** Syncs one cluster now and returns its status afterwards (the GraphQL resync). */
  async syncNow(clusterId: string): Promise<RbacSyncStatusView> {
    const em = this.rt.orm.em.fork();
    if (!(await em.findOne(Cluster, { id: clusterId }, { fields: ['id'] }))) throw new NotFoundError('cluster', clusterId);
    await this.request(clusterId, 'manual', 0);
    return readSyncStatus(this.rt.orm.em.fork(), clusterId);
  }

  /** The change set a sync would apply now, computed against the cluster's current objects. */
  async dryRun(clusterId: string): Promise<RbacDryRun> {
    const ctx = this.rt.context();
    if (!(await ctx.em.findOne(Cluster, { id: clusterId }, { fields: ['id'] }))) throw new NotFoundError('cluster', clusterId);
    const transport = await transportFor(ctx, clusterId, this.opts.tunnels);
    if (!transport) throw new NotFoundError('credentials', clusterId, `cluster ${clusterId} has no credentials and no agent tunnel here: RBAC cannot be applied to it`);
    const { client, plan } = await this.planFor(ctx, transport, clusterId);
    client.close();
    return { clusterId, server: client.server, plan };
  }

  /** Reads the cluster's grants and our objects in it, and plans; shared by sync and dry run. */
  private async planFor(ctx: DomainContext, transport: Transport, clusterId: string): Promise<{ client: RbacClient; plan: RbacPlan }> {
    const [grants, catalog] = await Promise.all([grantsForCluster(ctx.em, clusterId, this.opts.sources), loadCatalog(ctx.em)]);
    const { client, existing } = await RbacClient.connect(transport.creds, { timeoutMs: this.opts.requestTimeoutMs, dial: transport.dial });
    return { client, plan: planRbac(grants.map(toPlannerGrant), existing, catalog) };
  }

  private stateOf(clusterId: string): ClusterState {
    let s = this.states.get(clusterId);
    if (!s) this.states.set(clusterId, (s = { waiters: [] }));
    return s;
  }

  private run(clusterId: string, trigger: string): void {
    const s = this.stateOf(clusterId);
    clearTimeout(s.retry);
    s.retry = undefined;
    const waiters = s.waiters.splice(0);
    s.running = this.withSlot(() => this.syncOne(clusterId, trigger))
      .catch((err: unknown) => {
        // The store itself failed (the cluster was never reached): try again soon rather than at the next reconcile.
        // While it is down each retry fails again; the store health logs that once per outage.
        if (!this.rt.storeHealth.report(err)) this.rt.logger.error({ err, clusterId }, 'RBAC sync could not run');
        if (!this.stopped) this.retryLater(clusterId, 1);
      })
      .finally(() => {
        s.running = undefined;
        for (const w of waiters) w();
        const again = s.again;
        s.again = undefined;
        if (again && !this.stopped) this.run(clusterId, again);
      });
  }

  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.opts.concurrency) await new Promise<void>((resolve) => this.slots.push(resolve));
    this.active += 1;
    try {
      return await fn();
    } finally {
      this.active -= 1;
      this.slots.shift()?.();
    }
  }

  private retryLater(clusterId: string, failures: number, trigger = 'retry'): Date {
    const { initialMs, maxMs } = this.opts.backoff;
    const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1));
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    const s = this.stateOf(clusterId);
    clearTimeout(s.retry);
    s.retry = setTimeout(() => {
      s.retry = undefined;
      void this.request(clusterId, trigger, 0);
    }, delay);
    s.retry.unref();
    return new Date(Date.now() + delay);
  }

  private async syncOne(clusterId: string, trigger: string): Promise<void> {
    if (this.stopped) return;
    const ctx = this.rt.context();
    const log = this.rt.logger.child({ clusterId, trigger });
    const transport = await transportFor(ctx, clusterId, this.opts.tunnels);
    if (!transport && (await findTunnelCredential(ctx, clusterId))) {
      // Reachable only through a tunnel another gateway process holds: that process pushes it.
      log.debug('RBAC sync: the cluster is reached through a tunnel another gateway process holds');
      return;
    }
    if (!(await claimSyncLease(ctx.em, clusterId, this.owner, ctx.now(), LEASE_MS))) {
      // Another replica is syncing it; look again shortly in case it started before this change.
      log.debug('RBAC sync: another gateway process holds the lease');
      this.retryLater(clusterId, 1, trigger);
      return;
    }
    const at = ctx.now();
    if (!transport) {
      await recordSyncOutcome(ctx.em, clusterId, this.owner, { trigger, at, result: 'skipped', error: 'no credentials reported for this cluster yet' });
      this.opts.metrics?.observe('skipped', 0);
      return;
    }
    const previous = await readSyncStatus(ctx.em, clusterId);
    try {
      const { client, plan } = await this.planFor(ctx, transport, clusterId);
      const result = await client.apply(plan).finally(() => client.close());
      const changes: RbacChanges = { rolesCreated: result.rolesCreated, rolesUpdated: result.rolesUpdated, created: result.created, removed: result.removed };
      const ok = result.failed.length === 0;
      const nextRetryAt = ok ? null : this.retryLater(clusterId, previous.consecutiveFailures + 1);
      await recordSyncOutcome(ctx.em, clusterId, this.owner, {
        trigger,
        at,
        result: ok ? 'ok' : 'partial',
        server: result.server,
        error: ok ? null : `${result.failed.length} operation(s) failed: ${result.failed[0]!.message}`,
        failures: result.failed,
        changes,
        nextRetryAt,
      });
      this.opts.metrics?.observe(ok ? 'ok' : 'partial', (Date.now() - at.getTime()) / 1000, {
        created: changes.rolesCreated.length + changes.created.length,
        updated: changes.rolesUpdated.length,
        removed: changes.removed.length,
      });
      const n = changes.rolesCreated.length + changes.rolesUpdated.length + changes.created.length + changes.removed.length;
      if (n || !ok) log[ok ? 'info' : 'warn']({ changes, failed: result.failed.length }, 'RBAC sync applied');
    } catch (err) {
      // A store outage is not the cluster's failure: nothing is recorded (it could not be), run() retries.
      if (isStoreUnavailable(err)) throw err;
      const message = errMessage(err);
      const nextRetryAt = this.retryLater(clusterId, previous.consecutiveFailures + 1);
      await recordSyncOutcome(ctx.em, clusterId, this.owner, { trigger, at, result: 'failed', error: message, nextRetryAt });
      this.opts.metrics?.observe('failed', (Date.now() - at.getTime()) / 1000);
      log.warn({ error: message, nextRetryAt }, 'RBAC sync failed; retrying with backoff');
    }
  }
}
