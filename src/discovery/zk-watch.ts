/**
 * The watch side of discovery: what is watched under the base path and how the cache follows it.
 * ZooKeeper watches are one-shot; they are armed and re-armed in one place (`watcher()`), and every
 * refresh is a re-list of the watched path, so a lost or duplicated notification cannot leave the cache
 * wrong. One mechanism serves both layouts of the original (reference §6):
 * - per-cluster modules (`mesosdriver`, `kubernetedriver`): the module directory lists cluster ids, and
 *   each cluster directory is a group of server nodes;
 * - flat modules (`storage`, `netservice`, …): the module directory itself is the group.
 * Server nodes carry a data watch, so a changed ServerInfo is seen without a re-list.
 */
import type { Logger } from '../log';
import { createProtectedEphemeralSequential, orderBySequence, parseServerInfo } from './registration';
import { driverGroup, serviceGroup, type Group, type ServerCache } from './server-cache';
import type { Clock, SelfRegistration } from './service';
import type { ClusterModule, DiscoveryModule, ServiceModule } from './types';
import { isConnectionError, isNoNode, ZK_EVENT, type ZkAcl, type ZkWatcher } from './zk-client';
import type { Session } from './zk-session';

type Target = { kind: 'parent'; module: ClusterModule } | { kind: 'group'; group: Group } | { kind: 'node'; group: Group; node: string } | { kind: 'self' };

const targetKey = (t: Target): string => {
  switch (t.kind) {
    case 'parent':
      return `parent:${t.module}`;
    case 'group':
      return `group:${t.group.key}`;
    case 'node':
      return `node:${t.group.key}/${t.node}`;
    case 'self':
      return 'self';
  }
};

export interface WatchTreeOptions {
  base: string;
  drivers: readonly ClusterModule[];
  /** Directories outside `base` (this gateway's own tunnel holders), by module. */
  dirs?: Partial<Record<DiscoveryModule, string>>;
  services: readonly ServiceModule[];
  cache: ServerCache;
  isCurrent: (s: Session) => boolean;
  clock: Clock;
  backoff: (attempt: number) => number;
  register?: SelfRegistration;
  acl?: ZkAcl[];
  guid: string;
  onRegistered: (path: string) => void;
  log?: Logger;
}

export class WatchTree {
  /** Clusters being watched per driver module (= the module directory's last listing). */
  private readonly clusters = new Map<ClusterModule, Set<string>>();

  constructor(private readonly o: WatchTreeOptions) {
    for (const m of o.drivers) this.clusters.set(m, new Set());
  }

  clusterIds(module: ClusterModule): string[] {
    return [...(this.clusters.get(module) ?? [])].sort();
  }

  private dir(module: DiscoveryModule): string {
    return this.o.dirs?.[module] ?? `${this.o.base}/${module}`;
  }

  private groupPath(group: Group): string {
    return group.clusterId === undefined ? this.dir(group.module) : `${this.dir(group.module)}/${group.clusterId}`;
  }

  clear(): void {
    for (const set of this.clusters.values()) set.clear();
  }

  /** Re-lists everything session `s` watches (arming what is not armed yet). */
  async resync(s: Session): Promise<void> {
    const work: Promise<void>[] = this.o.drivers.map((module) => this.refresh(s, { kind: 'parent', module }));
    for (const [module, ids] of this.clusters) for (const id of ids) work.push(this.refresh(s, { kind: 'group', group: driverGroup(module, id) }));
    for (const module of this.o.services) work.push(this.refresh(s, { kind: 'group', group: serviceGroup(module) }));
    if (this.o.register) work.push(this.refresh(s, { kind: 'self' }));
    await Promise.all(work);
  }

  /**
   * Runs the refresh of `t` on session `s`, coalescing: if one is already running, it runs once more
   * after it and the caller waits for that pass.
   */
  private refresh(s: Session, t: Target): Promise<void> {
    const key = targetKey(t);
    const running = s.running.get(key);
    if (running) {
      running.dirty = true;
      return running.done;
    }
    const state = { dirty: false, done: Promise.resolve() };
    s.running.set(key, state);
    state.done = (async () => {
      try {
        do {
          state.dirty = false;
          if (!this.o.isCurrent(s)) return;
          try {
            await this.run(s, t);
            this.clearRetry(s, key);
          } catch (err) {
            this.onRefreshError(s, t, err);
            return;
          }
        } while (state.dirty);
      } finally {
        s.running.delete(key);
      }
    })();
    return state.done;
  }

  /**
   * The watcher for a read of `t`, or undefined when this session already has one armed for it (watches
   * are one-shot: firing disarms it, and the refresh it triggers arms the next one).
   */
  private watcher(s: Session, t: Target, armKey: string): ZkWatcher | undefined {
    if (s.armed.has(armKey)) return undefined;
    s.armed.add(armKey);
    return (event) => {
      // Session events (type -1: connection state changes, or "the session expired") leave the watch
      // registered, and say nothing about the node; connection handling re-lists anyway.
      if (event.type === ZK_EVENT.SESSION) return;
      s.armed.delete(armKey);
      if (this.o.isCurrent(s)) void this.refresh(s, t);
    };
  }

  /** Reads with a watch; if the read fails the watch was not registered, so it is disarmed. */
  private async watched<T>(s: Session, t: Target, read: (w: ZkWatcher | undefined) => Promise<T>, armKey = targetKey(t)): Promise<T> {
    const w = this.watcher(s, t, armKey);
    try {
      return await read(w);
    } catch (err) {
      if (w) s.armed.delete(armKey);
      throw err;
    }
  }

  private onRefreshError(s: Session, t: Target, err: unknown): void {
    if (!this.o.isCurrent(s)) return;
    // Connection trouble: the next `connect` re-lists everything (a new session re-arms everything).
    if (isConnectionError(err) && !s.connected) return;
    const key = targetKey(t);
    const retry = s.retries.get(key) ?? { attempt: 0 };
    const delay = this.o.backoff(retry.attempt);
    retry.attempt += 1;
    if (retry.timer !== undefined) this.o.clock.clearTimeout(retry.timer);
    retry.timer = this.o.clock.setTimeout(() => {
      retry.timer = undefined;
      if (this.o.isCurrent(s)) void this.refresh(s, t);
    }, delay);
    s.retries.set(key, retry);
    this.o.log?.warn({ err, target: key, delayMs: delay }, 'zookeeper discovery read failed; retrying');
  }

  private clearRetry(s: Session, key: string): void {
    const r = s.retries.get(key);
    if (!r) return;
    if (r.timer !== undefined) this.o.clock.clearTimeout(r.timer);
    s.retries.delete(key);
  }

  private run(s: Session, t: Target): Promise<void> {
    switch (t.kind) {
      case 'parent':
        return this.refreshParent(s, t.module);
      case 'group':
        return this.refreshGroup(s, t.group);
      case 'node':
        return this.refreshNode(s, t.group, t.node);
      case 'self':
        return this.refreshSelf(s);
    }
  }

  /** `<base>/<module>` of a driver module lists cluster ids: start watching new ones, drop the ones that went away. */
  private async refreshParent(s: Session, module: ClusterModule): Promise<void> {
    const path = this.dir(module);
    let ids: string[];
    try {
      ids = await this.watched(s, { kind: 'parent', module }, (w) => s.client.getChildren(path, w));
    } catch (err) {
      if (!isNoNode(err)) throw err;
      // No directory yet: nothing to route to; look again with backoff (the original: every 5 s).
      if (this.o.isCurrent(s)) this.setClusters(module, []);
      throw err;
    }
    if (!this.o.isCurrent(s)) return;
    const added = this.setClusters(module, ids);
    const unarmed = ids.filter((id) => !s.armed.has(targetKey({ kind: 'group', group: driverGroup(module, id) })));
    await Promise.all([...new Set([...added, ...unarmed])].map((id) => this.refresh(s, { kind: 'group', group: driverGroup(module, id) })));
  }

  /** Returns the ids that are new. */
  private setClusters(module: ClusterModule, ids: string[]): string[] {
    const known = this.clusters.get(module)!;
    const next = new Set(ids);
    const added = ids.filter((id) => !known.has(id));
    for (const id of [...known]) {
      if (next.has(id)) continue;
      known.delete(id);
      this.o.cache.dropGroup(driverGroup(module, id).key);
    }
    for (const id of added) known.add(id);
    return added;
  }

  /** A group directory lists server nodes: read new ones, drop the ones that went away. */
  private async refreshGroup(s: Session, group: Group): Promise<void> {
    const live = (): boolean => group.clusterId === undefined || (this.clusters.get(group.module as ClusterModule)?.has(group.clusterId) ?? false);
    if (!live()) return;
    const t: Target = { kind: 'group', group };
    const path = this.groupPath(group);
    let names: string[];
    try {
      names = orderBySequence(await this.watched(s, t, (w) => s.client.getChildren(path, w)));
    } catch (err) {
      if (!isNoNode(err)) throw err;
      names = []; // a driver's cluster: the parent watch drops it
      if (group.clusterId === undefined) {
        // A flat module that has not registered yet: watch for its directory (the original polled every 5 s).
        // Created between the two reads: list it again through the retry.
        if (await this.watched(s, t, (w) => s.client.exists(path, w), `exists:${group.key}`)) throw err;
      }
    }
    if (!this.o.isCurrent(s) || !live()) return;
    const previous = this.o.cache.setListing(group, names);
    const toRead = names.filter((n) => !previous.has(n) || !this.o.cache.has(group.key, n) || !s.armed.has(targetKey({ kind: 'node', group, node: n })));
    await Promise.all(toRead.map((node) => this.refresh(s, { kind: 'node', group, node })));
  }

  /** One server's ServerInfo (data watch: an update is seen without a re-list). */
  private async refreshNode(s: Session, group: Group, node: string): Promise<void> {
    const cache = this.o.cache;
    if (!cache.isListed(group.key, node)) return;
    const path = `${this.groupPath(group)}/${node}`;
    let data: Buffer;
    try {
      data = await this.watched(s, { kind: 'node', group, node }, (w) => s.client.getData(path, w));
    } catch (err) {
      if (!isNoNode(err)) throw err;
      if (this.o.isCurrent(s)) cache.remove(group.key, node);
      return;
    }
    if (!this.o.isCurrent(s) || !cache.isListed(group.key, node)) return;
    const info = parseServerInfo(data);
    if (!info) {
      this.o.log?.warn({ path }, 'ignoring a server node whose data is not ServerInfo JSON with ip and port');
      cache.remove(group.key, node);
      return;
    }
    cache.put(group.key, { module: group.module, clusterId: group.clusterId, node, path, info });
  }

  /** This gateway's own ephemeral node: created when missing (after expiry, or deleted by someone). */
  private async refreshSelf(s: Session): Promise<void> {
    const reg = this.o.register;
    if (!reg) return;
    if (s.ownPath) {
      const path = s.ownPath;
      if (await this.watched(s, { kind: 'self' }, (w) => s.client.exists(path, w), `self:${path}`)) return;
      if (!this.o.isCurrent(s)) return;
      this.o.log?.warn({ path }, 'own apiserver node was deleted; registering again');
      s.ownPath = undefined;
    }
    const info: SelfRegistration = { ...reg, pid: reg.pid ?? process.pid };
    const path = await createProtectedEphemeralSequential(s.client, `${this.o.base}/apiserver`, reg.ip, JSON.stringify(info), { guid: this.o.guid, acl: this.o.acl });
    if (!this.o.isCurrent(s)) return;
    s.ownPath = path;
    this.o.log?.info({ path }, 'registered this gateway in zookeeper');
    this.o.onRegistered(path);
    // Watch it; `exists` on a node deleted meanwhile still arms the watch and returns false.
    if (!(await this.watched(s, { kind: 'self' }, (w) => s.client.exists(path, w), `self:${path}`)) && this.o.isCurrent(s)) {
      s.ownPath = undefined;
      throw new Error(`own node ${path} vanished right after creation`);
    }
  }
}
