/**
 * A thin, promise-based face over the `zookeeper` npm package (the C client, v7.3.0). It keeps numeric
 * return codes (so callers can tell "connection loss" from "no node"), hands watch events to a plain
 * callback, and is the only file that touches the native module. Discovery code depends on the
 * `ZkClient` interface and receives instances from a `ZkClientFactory`, the seam tests use.
 */
import { EventEmitter } from 'node:events';

export * from './zk-types';
import { isNodeExists, isNoNode, ZK_CLOSE, ZK_CREATE, ZK_RC, ZkError, type ZkAcl, type ZkClient, type ZkClientFactory, type ZkClientOptions, type ZkSession, type ZkWatcher } from './zk-types';

/* The subset of the native module used here, typed locally (its bundled declarations are ambient). */
type Cb = (rc: number, error: string, ...rest: unknown[]) => void;
type NativeWatch = (type: number, state: number, path: string) => void;
interface NativeZk extends EventEmitter {
  init(config: Record<string, unknown>): NativeZk;
  close(): unknown;
  /** The C client's `zoo_state()`: 3 connected, 5 read-only, 1/2 connecting, 999 not connected, 0 closed. */
  readonly state: number;
  readonly timeout: number;
  readonly client_id: unknown;
  readonly client_password: string;
  a_create(path: string, data: string | Buffer, flags: number, cb: Cb): number;
  a_exists(path: string, watch: boolean, cb: Cb): number;
  aw_exists(path: string, watch: NativeWatch, cb: Cb): number;
  a_get(path: string, watch: boolean, cb: Cb): number;
  aw_get(path: string, watch: NativeWatch, cb: Cb): number;
  a_get_children(path: string, watch: boolean, cb: Cb): number;
  aw_get_children(path: string, watch: NativeWatch, cb: Cb): number;
  a_delete_(path: string, version: number, cb: Cb): number;
  a_set(path: string, data: string | Buffer, version: number, cb: Cb): number;
  a_get_acl(path: string, cb: Cb): number;
  a_set_acl(path: string, version: number, acl: ZkAcl[], cb: Cb): number;
  add_auth(scheme: string, auth: string, cb: Cb): number;
}
type NativeZkConstructor = new (config: Record<string, unknown>) => NativeZk;

let nativeCtor: NativeZkConstructor | undefined;
function loadNative(): NativeZkConstructor {
  // Loaded lazily so that a gateway without ZooKeeper never loads the native addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  nativeCtor ??= require('zookeeper') as NativeZkConstructor;
  return nativeCtor;
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.alloc(0);
}

/** `zoo_state()` values with a live link (connected, or connected to a read-only server). */
const LINK_UP_STATES: ReadonlySet<number> = new Set([3, 5]);
/** How often the reported link is compared with the native state (see `checkLink`). */
const LINK_CHECK_MS = 1000;

/** The production client: one native handle per instance, connecting as soon as it is created. */
export class NativeZkClient extends EventEmitter implements ZkClient {
  private readonly zk: NativeZk;
  /** After `close` the native handle must not be used again (the package's README: it may crash). */
  private closed = false;
  /** What this client last reported: `connect` (true) or `connecting` (false). */
  private linkUp = false;
  private readonly linkCheck: NodeJS.Timeout;
  /** Set when the handle was closed because its link broke under a call: the session to resume. */
  private lostSession: ZkSession | undefined;

  constructor(private readonly options: ZkClientOptions) {
    super();
    const Native = loadNative();
    const config: Record<string, unknown> = {
      connect: options.connect,
      timeout: options.sessionTimeoutMs,
      debug_level: options.logLevel ?? 1,
      host_order_deterministic: false,
      data_as_buffer: true,
    };
    if (options.session) {
      config.client_id = options.session.id;
      config.client_password = options.session.password;
    }
    this.zk = new Native(config);
    this.zk.on('connect', () => {
      this.linkUp = true;
      this.emit('connect');
    });
    this.zk.on('connecting', () => this.linkLost());
    this.zk.on('close', (_self: unknown, code: unknown) => {
      this.closed = true;
      clearInterval(this.linkCheck);
      const lost = this.lostSession;
      // Reported after the call that found the link broken has returned, not from inside it.
      if (lost) process.nextTick(() => this.emit('close', ZK_CLOSE.LINK_LOST, lost));
      else this.emit('close', typeof code === 'number' ? code : 0);
    });
    this.linkCheck = setInterval(() => this.checkLink(), LINK_CHECK_MS).unref();
    this.zk.init({});
  }

  private linkLost(): void {
    if (!this.linkUp) return;
    this.linkUp = false;
    this.emit('connecting');
  }

  /**
   * The C client can lose its link without a session event, so a `connecting` event never comes: the
   * state is compared every second. (A link that breaks under a call is handled at once, in `call`.)
   */
  private checkLink(): void {
    if (!this.closed && this.linkUp && !LINK_UP_STATES.has(this.zk.state)) this.linkLost();
  }

  get sessionTimeoutMs(): number {
    return this.zk.timeout > 0 ? this.zk.timeout : this.options.sessionTimeoutMs;
  }

  get sessionId(): string {
    const id = this.zk.client_id;
    return id && id !== '0' && id !== 0 ? String(id) : '';
  }

  /** The session's password (hex), for tests that resume the session elsewhere. */
  get sessionPassword(): string {
    return this.zk.client_password;
  }

  /**
   * When sending a new request fails on a socket the server has closed, the C client closes the socket
   * and marks itself not connected (`nonblocking_send`) but tells neither a watcher nor the binding,
   * whose poll then watches a closed descriptor until its next timer tick (up to a third of the session
   * timeout). A socket opened meanwhile anywhere in the process can take that number, and the binding's
   * late clean-up then breaks that socket's polling or aborts the process (libuv's poll assertion, seen
   * in a test). So a link that breaks during a call closes the handle at once, before anything else can
   * run, and `close` carries the session for a new client to resume.
   */
  private call<T>(op: string, path: string, start: (cb: Cb) => number, pick: (rest: unknown[]) => T): Promise<T> {
    if (this.closed) return Promise.reject(new ZkError(ZK_RC.INVALIDSTATE, op, path, 'client is closed'));
    const wasUp = LINK_UP_STATES.has(this.zk.state);
    return new Promise<T>((resolve, reject) => {
      const rc = start((code, error, ...rest) => {
        if (code === ZK_RC.OK) resolve(pick(rest));
        else reject(new ZkError(code, op, path, error));
      });
      if (typeof rc === 'number' && rc !== ZK_RC.OK) reject(new ZkError(rc, op, path, 'rejected by the client'));
      if (wasUp && !this.closed && !LINK_UP_STATES.has(this.zk.state)) this.dropBrokenLink();
    });
  }

  private dropBrokenLink(): void {
    this.lostSession = { id: this.sessionId, password: this.zk.client_password };
    this.linkUp = false;
    this.closed = true;
    clearInterval(this.linkCheck);
    // Not connected, so the C client sends no close request: the session stays open on the server.
    this.zk.close();
  }

  private static native(watcher: ZkWatcher): NativeWatch {
    return (type, state, path) => watcher({ type, state, path });
  }

  getChildren(path: string, watcher?: ZkWatcher): Promise<string[]> {
    return this.call('getChildren', path, (cb) => (watcher ? this.zk.aw_get_children(path, NativeZkClient.native(watcher), cb) : this.zk.a_get_children(path, false, cb)), (r) => (Array.isArray(r[0]) ? (r[0] as string[]) : []));
  }

  getData(path: string, watcher?: ZkWatcher): Promise<Buffer> {
    return this.call('getData', path, (cb) => (watcher ? this.zk.aw_get(path, NativeZkClient.native(watcher), cb) : this.zk.a_get(path, false, cb)), (r) => toBuffer(r[1]));
  }

  async exists(path: string, watcher?: ZkWatcher): Promise<boolean> {
    try {
      await this.call('exists', path, (cb) => (watcher ? this.zk.aw_exists(path, NativeZkClient.native(watcher), cb) : this.zk.a_exists(path, false, cb)), () => undefined);
      return true;
    } catch (err) {
      if (isNoNode(err)) return false;
      throw err;
    }
  }

  create(path: string, data: string | Buffer, mode: number): Promise<string> {
    return this.call('create', path, (cb) => this.zk.a_create(path, data, mode, cb), (r) => String(r[0]));
  }

  delete(path: string, version = -1): Promise<void> {
    return this.call('delete', path, (cb) => this.zk.a_delete_(path, version, cb), () => undefined);
  }

  setData(path: string, data: string | Buffer, version = -1): Promise<void> {
    return this.call('setData', path, (cb) => this.zk.a_set(path, data, version, cb), () => undefined);
  }

  getAcl(path: string): Promise<ZkAcl[]> {
    return this.call('getAcl', path, (cb) => this.zk.a_get_acl(path, cb), (r) => (r[0] as ZkAcl[]).map((a) => ({ perms: a.perms, scheme: a.scheme, auth: a.auth })));
  }

  setAcl(path: string, version: number, acl: ZkAcl[]): Promise<void> {
    return this.call('setAcl', path, (cb) => this.zk.a_set_acl(path, version, acl, cb), () => undefined);
  }

  addAuth(scheme: string, auth: string): Promise<void> {
    return this.call('addAuth', scheme, (cb) => this.zk.add_auth(scheme, auth, cb), () => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.linkCheck);
    this.zk.close();
  }
}

export const createZkClient: ZkClientFactory = (options) => new NativeZkClient(options);

/** `a:1,b` → `a:1,b:2181`: the C client needs a port on every host. */
export function normaliseHosts(hosts: string): string {
  return hosts
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean)
    .map((h) => (/:\d+$/.test(h) && !/^\[[^\]]*\]$/.test(h) ? h : `${h}:2181`))
    .join(',');
}

/** Creates every missing ancestor of `path` (and `path` itself) as a persistent node. */
export async function ensurePath(client: ZkClient, path: string, acl?: ZkAcl[]): Promise<void> {
  const parts = path.split('/').filter(Boolean);
  let current = '';
  for (const part of parts) {
    current += `/${part}`;
    if (await client.exists(current)) continue;
    try {
      await client.create(current, '', ZK_CREATE.PERSISTENT);
      if (acl) await client.setAcl(current, -1, acl);
    } catch (err) {
      if (!isNodeExists(err)) throw err;
    }
  }
}
