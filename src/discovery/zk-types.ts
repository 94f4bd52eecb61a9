/**
 * The ZooKeeper vocabulary the discovery code speaks: return codes, create modes, events, ACLs, errors,
 * and the `ZkClient` interface that zk-client.ts implements over the native module (and tests fake).
 */
import { createHash } from 'node:crypto';

/** ZooKeeper return codes this gateway distinguishes (values of the C client's `ZOO_ERRORS`). */
export const ZK_RC = {
  OK: 0,
  CONNECTIONLOSS: -4,
  OPERATIONTIMEOUT: -7,
  INVALIDSTATE: -9,
  NONODE: -101,
  NOAUTH: -102,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  AUTHFAILED: -115,
  CLOSING: -116,
} as const;

/** Create modes (`ZOO_PERSISTENT`, `ZOO_EPHEMERAL_SEQUENTIAL`, …). */
export const ZK_CREATE = { PERSISTENT: 0, EPHEMERAL: 1, PERSISTENT_SEQUENTIAL: 2, EPHEMERAL_SEQUENTIAL: 3 } as const;

/** Watch event types delivered to watchers. */
export const ZK_EVENT = { CREATED: 1, DELETED: 2, CHANGED: 3, CHILD: 4, SESSION: -1, NOTWATCHING: -2 } as const;

/**
 * Close codes carried by the `close` event: 0 = closed by us, -112 = session expired, -113 = auth failed,
 * 1 = the link broke under a call and the handle was closed at once (see `NativeZkClient.call`); the
 * session itself may live on, and the event then carries what a new client needs to resume it.
 */
export const ZK_CLOSE = { BY_CLIENT: 0, SESSION_EXPIRED: -112, AUTH_FAILED: -113, LINK_LOST: 1 } as const;

/** What resumes a session on a new client. */
export interface ZkSession {
  id: string;
  password: string;
}

export const ZK_PERM_ALL = 31;

export interface ZkAcl {
  perms: number;
  scheme: string;
  auth: string;
}

/** What the original created every node with: `DigestACL(PermAll, user, password)`. */
export function digestAcl(user: string, password: string): ZkAcl[] {
  const digest = createHash('sha1').update(`${user}:${password}`).digest('base64');
  return [{ perms: ZK_PERM_ALL, scheme: 'digest', auth: `${user}:${digest}` }];
}

/** A failed ZooKeeper operation; `rc` is one of the C client's return codes (see `ZK_RC`). */
export class ZkError extends Error {
  constructor(
    readonly rc: number,
    readonly op: string,
    readonly path: string,
    detail?: string,
  ) {
    super(`zookeeper ${op} ${path} failed: ${detail ?? 'error'} (rc ${rc})`);
    this.name = 'ZkError';
  }
}

/** Codes meaning "the link or the session is gone": retried after reconnecting, never fatal. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof ZkError)) return false;
  const codes: number[] = [ZK_RC.CONNECTIONLOSS, ZK_RC.OPERATIONTIMEOUT, ZK_RC.INVALIDSTATE, ZK_RC.SESSIONEXPIRED, ZK_RC.CLOSING];
  return codes.includes(err.rc);
}

export const isNoNode = (err: unknown): boolean => err instanceof ZkError && err.rc === ZK_RC.NONODE;
export const isNodeExists = (err: unknown): boolean => err instanceof ZkError && err.rc === ZK_RC.NODEEXISTS;

export interface ZkWatchEvent {
  type: number;
  state: number;
  path: string;
}
export type ZkWatcher = (event: ZkWatchEvent) => void;

/**
 * One ZooKeeper handle = at most one session. Events: `connect` (connected or re-connected within the
 * session), `connecting` (link lost, the client is trying other servers), `close` (code; the handle is
 * dead: expired session, failed auth, or `close()`).
 */
export interface ZkClient {
  on(event: 'connect' | 'connecting', listener: () => void): this;
  on(event: 'close', listener: (code: number, resume?: ZkSession) => void): this;
  /** Negotiated session timeout once connected, else the requested one. */
  readonly sessionTimeoutMs: number;
  /** Session id (hex) once connected, else ''. */
  readonly sessionId: string;
  getChildren(path: string, watcher?: ZkWatcher): Promise<string[]>;
  getData(path: string, watcher?: ZkWatcher): Promise<Buffer>;
  /** True when the node exists. With a watcher, also watches a node that does not exist yet. */
  exists(path: string, watcher?: ZkWatcher): Promise<boolean>;
  create(path: string, data: string | Buffer, mode: number): Promise<string>;
  delete(path: string, version?: number): Promise<void>;
  /** Replaces a node's data (`version` -1: whatever its version); watchers of its data fire. */
  setData(path: string, data: string | Buffer, version?: number): Promise<void>;
  getAcl(path: string): Promise<ZkAcl[]>;
  setAcl(path: string, version: number, acl: ZkAcl[]): Promise<void>;
  addAuth(scheme: string, auth: string): Promise<void>;
  close(): void;
}

export interface ZkClientOptions {
  /** Comma-separated `host:port` list. */
  connect: string;
  sessionTimeoutMs: number;
  /** The C client's log level: 0 = off, 1 = error (default), 2 = warn, 3 = info, 4 = debug. */
  logLevel?: number;
  /** Resume an existing session (after a lost link; tests also use it to take a session over and force its expiry). */
  session?: ZkSession;
}

export type ZkClientFactory = (options: ZkClientOptions) => ZkClient;
