/**
 * Ephemeral nodes this process publishes besides its own apiserver registration (the replicas holding
 * each cluster's tunnels). What should exist is kept here; every (re)connected session gets it created,
 * so an expired session's nodes come back on the next one. Each node is created the protected way (a
 * guid of its own), so a create retried after a lost link adopts the node it made. Operations run one at
 * a time, in order, so a withdraw never races the create it undoes.
 */
import type { Logger } from '../log';
import { createProtectedEphemeralSequential, protectedGuid } from './registration';
import { isNoNode, type ZkAcl } from './zk-client';
import type { Session } from './zk-session';

interface Wanted {
  dir: string;
  name: string;
  data: string;
  guid: string;
}

export class PublishedNodes {
  private readonly wanted = new Map<string, Wanted>();
  /** Paths created on a session, by key. */
  private readonly created = new WeakMap<Session, Map<string, string>>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly current: () => Session | undefined,
    private readonly isCurrent: (s: Session) => boolean,
    private readonly acl: ZkAcl[] | undefined,
    private readonly log?: Logger,
  ) {}

  /** Publishes (or replaces) the node for `key`; data changes replace the node. */
  publish(key: string, dir: string, name: string, data: string): void {
    const before = this.wanted.get(key);
    if (before && before.dir === dir && before.name === name && before.data === data) return;
    this.wanted.set(key, { dir, name, data, guid: protectedGuid() });
    this.enqueue((s) => this.apply(s, key));
  }

  withdraw(key: string): void {
    if (!this.wanted.delete(key)) return;
    this.enqueue((s) => this.apply(s, key));
  }

  /** A (re)connected session: everything wanted is created on it, anything created and no longer wanted goes. */
  resync(s: Session): Promise<void> {
    return this.enqueue(async (cur) => {
      if (cur !== s) return;
      const keys = new Set([...this.wanted.keys(), ...(this.created.get(s)?.keys() ?? [])]);
      for (const key of keys) await this.apply(s, key);
    });
  }

  private enqueue(op: (s: Session) => Promise<void>): Promise<void> {
    const run = async (): Promise<void> => {
      const s = this.current();
      if (!s || !s.connected || !this.isCurrent(s)) return; // the next connect resyncs
      try {
        await op(s);
      } catch (err) {
        // A connection error: the next connect resyncs. Anything else is worth a line.
        this.log?.warn({ err }, 'cannot publish a node in zookeeper; retried on the next reconnect');
      }
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  /** Makes session `s` match what is wanted for `key`. */
  private async apply(s: Session, key: string): Promise<void> {
    let paths = this.created.get(s);
    if (!paths) this.created.set(s, (paths = new Map()));
    const want = this.wanted.get(key);
    const have = paths.get(key);
    const wantedPath = want && `${want.dir}/_c_${want.guid}-`;
    if (have && (!wantedPath || !have.startsWith(wantedPath))) {
      try {
        await s.client.delete(have);
      } catch (err) {
        if (!isNoNode(err)) throw err;
      }
      paths.delete(key);
    }
    if (want && !paths.has(key) && this.isCurrent(s)) {
      paths.set(key, await createProtectedEphemeralSequential(s.client, want.dir, want.name, want.data, { guid: want.guid, acl: this.acl }));
    }
  }
}
