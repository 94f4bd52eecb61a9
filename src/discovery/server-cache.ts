/**
 * The discovery cache: for each group (a directory of server nodes: `mesosdriver/<cluster>`, or a flat
 * module such as `storage`) its last child listing and the ServerInfo of each listed node. Answers are
 * built from memory and memoised until the group changes; changes are reported as add/update/delete.
 */
import { orderBySequence } from './registration';
import type { DiscoveredServer, DiscoveryEmit } from './service';
import type { DiscoveryModule, ServerInfo } from './types';

/** A directory whose children are server nodes. */
export interface Group {
  /** Path below the base: `<module>/<cluster>` for drivers, `<module>` for flat modules. */
  key: string;
  module: DiscoveryModule;
  clusterId?: string;
}

export const driverGroup = (module: DiscoveryModule, clusterId: string): Group => ({ key: `${module}/${clusterId}`, module, clusterId });
export const serviceGroup = (module: DiscoveryModule): Group => ({ key: module, module });

export class ServerCache {
  /** Last child listing of each watched group (valid names only). */
  private readonly listings = new Map<string, Set<string>>();
  /** Group key → node name → server. */
  private readonly entries = new Map<string, Map<string, DiscoveredServer>>();
  /** Answers per group, rebuilt lazily after a change. */
  private readonly ordered = new Map<string, ServerInfo[]>();

  constructor(private readonly emit: DiscoveryEmit) {}

  /** Live servers of a group in node-sequence order (a copy). */
  servers(key: string): ServerInfo[] {
    let list = this.ordered.get(key);
    if (!list) {
      const entries = this.entries.get(key);
      if (!entries) return [];
      list = orderBySequence([...entries.keys()]).map((n) => entries.get(n)!.info);
      this.ordered.set(key, list);
    }
    return [...list];
  }

  list(): DiscoveredServer[] {
    return [...this.entries.values()].flatMap((m) => [...m.values()]);
  }

  isListed(key: string, node: string): boolean {
    return this.listings.get(key)?.has(node) ?? false;
  }

  has(key: string, node: string): boolean {
    return this.entries.get(key)?.has(node) ?? false;
  }

  /** Records a group's new listing, drops the servers no longer in it, and returns the previous listing. */
  setListing(group: Group, names: readonly string[]): Set<string> {
    const next = new Set(names);
    const previous = this.listings.get(group.key) ?? new Set<string>();
    this.listings.set(group.key, next);
    for (const name of previous) if (!next.has(name)) this.remove(group.key, name);
    for (const name of [...(this.entries.get(group.key)?.keys() ?? [])]) if (!next.has(name)) this.remove(group.key, name);
    return previous;
  }

  /** Forgets a group whose directory went away (a cluster no longer listed). */
  dropGroup(key: string): void {
    this.listings.delete(key);
    for (const name of [...(this.entries.get(key)?.keys() ?? [])]) this.remove(key, name);
  }

  put(key: string, server: DiscoveredServer): void {
    let entries = this.entries.get(key);
    if (!entries) this.entries.set(key, (entries = new Map()));
    const previous = entries.get(server.node);
    if (previous && JSON.stringify(previous.info) === JSON.stringify(server.info)) return;
    entries.set(server.node, server);
    this.ordered.delete(key);
    if (previous) this.emit('update', server, previous);
    else this.emit('add', server);
  }

  remove(key: string, node: string): void {
    const entries = this.entries.get(key);
    const previous = entries?.get(node);
    if (!entries || !previous) return;
    entries.delete(node);
    if (!entries.size) this.entries.delete(key);
    this.ordered.delete(key);
    this.emit('delete', previous);
  }

  clear(): void {
    this.entries.clear();
    this.ordered.clear();
    this.listings.clear();
  }
}
