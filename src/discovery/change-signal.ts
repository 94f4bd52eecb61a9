/**
 * The change signal over the discovery's ZooKeeper session (no second client): a process that commits
 * change-feed rows rewrites the data of one persistent node, and every process keeps a data watch on it.
 * One node and at most one write in flight per process, so a burst of commits costs a few writes, and
 * each replica a few reads of the feed, not one per row.
 */
import type { ChangeSignal, ChangeSignalListener } from '../domain/change-signal';
import type { Logger } from '../log';
import { createZkClient, ensurePath, isConnectionError, isNoNode, normaliseHosts, ZK_EVENT, type ZkAcl, type ZkClient, type ZkClientFactory } from './zk-client';

export const CHANGES_NODE = '/bcs/services/bcs-api/changes';

/** What the signal needs of the discovery: its connected client, and when the session comes and goes. */
export interface ZkSessionSource {
  connectedClient(): ZkClient | undefined;
  on(event: 'connect' | 'disconnect' | 'expired', listener: () => void): unknown;
  off(event: 'connect' | 'disconnect' | 'expired', listener: () => void): unknown;
}

export interface ZkChangeSignalOptions {
  safetyNetMs: number;
  path?: string;
  acl?: ZkAcl[];
  log?: Logger;
  /** After an error that is not a lost connection (an ACL refusing us, say): arm again after this long. */
  retryMs?: number;
}

export class ZkChangeSignal implements ChangeSignal {
  readonly safetyNetMs: number;
  private readonly path: string;
  private readonly listeners = new Set<ChangeSignalListener>();
  /** Bumped whenever a watch is set or the session goes: watchers of older generations are spent. */
  private generation = 0;
  private armedOn: ZkClient | undefined;
  private latest = 0;
  private scheduled = false;
  private sending = false;
  /** Notified while a write was in flight: one more write when it ends. */
  private dirty = false;
  /** A write that could not be made (no session): made once the watch is set again. */
  private owed = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;

  constructor(
    private readonly source: ZkSessionSource,
    private readonly o: ZkChangeSignalOptions,
  ) {
    this.safetyNetMs = o.safetyNetMs;
    this.path = o.path ?? CHANGES_NODE;
  }

  start(): void {
    this.source.on('connect', this.onConnect);
    this.source.on('disconnect', this.onDown);
    this.source.on('expired', this.onDown);
    if (this.source.connectedClient()) void this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.generation += 1;
    clearTimeout(this.retry);
    this.source.off('connect', this.onConnect);
    this.source.off('disconnect', this.onDown);
    this.source.off('expired', this.onDown);
    this.setArmed(undefined);
    this.listeners.clear();
  }

  up(): boolean {
    return this.armedOn !== undefined && this.armedOn === this.source.connectedClient();
  }

  subscribe(listener: ChangeSignalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(feedId: number): void {
    this.latest = Math.max(this.latest, feedId);
    if (this.scheduled) return;
    // Everything committed in this turn of the event loop goes out as one write.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.send();
    });
  }

  private readonly onConnect = (): void => void this.arm();

  private readonly onDown = (): void => {
    this.generation += 1;
    this.setArmed(undefined);
  };

  private async send(): Promise<void> {
    if (this.stopped) return;
    if (this.sending) {
      this.dirty = true;
      return;
    }
    const client = this.source.connectedClient();
    if (!client) {
      this.owed = true;
      return;
    }
    this.sending = true;
    this.dirty = false;
    const data = String(this.latest);
    try {
      await bump(client, this.path, data, this.o.acl);
    } catch (err) {
      // The others read the feed at their safety-net poll at worst; the write is made again once the watch is.
      this.owed = true;
      if (!isConnectionError(err)) this.o.log?.warn({ err }, 'cannot signal a change through zookeeper');
    } finally {
      this.sending = false;
    }
    if (this.dirty) await this.send();
  }

  /** Sets a data watch on the node (creating it when missing); once set, listeners read the feed. */
  private async arm(): Promise<void> {
    const client = this.source.connectedClient();
    if (!client || this.stopped) return;
    clearTimeout(this.retry);
    const generation = ++this.generation;
    const watcher = (event: { type: number }): void => {
      if (generation !== this.generation || event.type === ZK_EVENT.SESSION || event.type === ZK_EVENT.NOTWATCHING) return;
      void this.arm();
    };
    let data: Buffer;
    try {
      data = await client.getData(this.path, watcher).catch(async (err: unknown) => {
        if (!isNoNode(err)) throw err;
        await ensurePath(client, this.path, this.o.acl);
        return client.getData(this.path, watcher);
      });
    } catch (err) {
      if (generation !== this.generation) return;
      this.setArmed(undefined);
      if (isConnectionError(err)) return; // the next `connect` arms it again
      if (!this.failing) this.o.log?.warn({ err }, 'cannot watch the change signal in zookeeper; replicas poll the change feed every 500 ms');
      this.failing = true;
      this.retry = setTimeout(() => void this.arm(), this.o.retryMs ?? 5000);
      this.retry.unref();
      return;
    }
    if (generation !== this.generation) return;
    this.failing = false;
    this.setArmed(client);
    // Set after any change it may have missed (first start, a reconnect, or the event that spent the last one).
    const feedId = Number(data.toString('utf8'));
    for (const l of [...this.listeners]) l.signalled(Number.isSafeInteger(feedId) && feedId > 0 ? feedId : undefined);
    if (this.owed) {
      this.owed = false;
      void this.send();
    }
  }

  private setArmed(client: ZkClient | undefined): void {
    const was = this.armedOn !== undefined;
    this.armedOn = client;
    if (was !== (client !== undefined)) for (const l of [...this.listeners]) l.health(client !== undefined);
  }
}

/** Creates the node when missing, then rewrites its data: every watcher reads the feed. */
async function bump(client: ZkClient, path: string, data: string, acl?: ZkAcl[]): Promise<void> {
  await client.setData(path, data).catch(async (err: unknown) => {
    if (!isNoNode(err)) throw err;
    await ensurePath(client, path, acl);
    await client.setData(path, data);
  });
}

/**
 * One signal from a process that serves nothing (an admin command): a short-lived session of its own,
 * so a token revoked from the command line reaches the replicas at once, not at their safety-net poll.
 */
export async function signalOnce(o: { hosts: string; feedId: number; acl?: ZkAcl[]; auth?: { user: string; password: string }; timeoutMs?: number; factory?: ZkClientFactory }): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const client = (o.factory ?? createZkClient)({ connect: normaliseHosts(o.hosts), sessionTimeoutMs: 10_000, logLevel: 0 });
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no zookeeper connection within ${timeoutMs} ms`)), timeoutMs);
      client.on('connect', resolve);
      client.on('close', (code) => reject(new Error(`zookeeper session closed (${code})`)));
    });
    if (o.auth) await client.addAuth('digest', `${o.auth.user}:${o.auth.password}`);
    await bump(client, CHANGES_NODE, String(o.feedId), o.acl);
  } finally {
    clearTimeout(timer);
    client.close();
  }
}
