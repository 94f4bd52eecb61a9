/**
 * The wire format of the permission-service subscription (§8.6): the URL rule, inbound frames and
 * the `AuthRbacData` carried by data frames. Pure functions, no I/O; `subscription.ts` is the transport.
 */

/** The decoded `data` of a data frame (the original's AuthRbacData). */
export interface AuthRbacData {
  operation: 'add' | 'delete';
  principal: { principal_type: string; principal_id: string };
  scope_type?: string;
  scope_instance?: string;
  service?: string;
  /** Template name, e.g. "workloads-view". */
  action: string;
  resource_type: 'cluster' | 'namespace';
  resource_instance: { cluster: string; namespace?: string };
  /** "pattern_policy" | "common"; anything else is for the caller to reject. */
  policy_from: string;
}

/** The path the original dialled on `bkiam_auth_sub_server`. */
export const SUBSCRIPTION_PATH = '/subscribers/bcs-api/sub';

const BARE_HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?$/;

/**
 * Turns the configured `bkiam_auth_sub_server` into the URL to dial.
 * - A full `ws://` or `wss://` URL is kept (its path too); without a path, `/subscribers/bcs-api/sub` is appended.
 * - A bare `host[:port]` (what the original held) becomes **wss://**host[:port]/subscribers/bcs-api/sub.
 * - `insecure` is true for ws:// so the caller can warn: the Basic credentials then travel in cleartext.
 * Anything else (another scheme, empty, whitespace, credentials in the URL, a bad port) throws.
 */
export function subscriptionUrl(configured: string): { url: string; insecure: boolean } {
  const bad = (why: string, shown = configured): Error => new Error(`invalid RBAC subscription server ${JSON.stringify(shown)}: ${why}`);
  if (typeof configured !== 'string' || configured === '') throw bad('it is empty; expected host[:port] or a ws:// or wss:// URL');
  if (/\s/.test(configured)) throw bad('it contains whitespace');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(configured)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const m = BARE_HOST.exec(configured);
    if (!m) throw bad('expected host[:port] or a ws:// or wss:// URL');
    if (m[2] !== undefined && !validPort(m[2])) throw bad('the port is out of range');
    return { url: `wss://${configured}${SUBSCRIPTION_PATH}`, insecure: false };
  }
  if (scheme !== 'ws' && scheme !== 'wss') throw bad(`the scheme ${scheme}:// is not supported; use wss:// (or ws://)`);
  let u: URL;
  try {
    u = new URL(configured);
  } catch {
    throw bad('it is not a valid URL');
  }
  if (u.username || u.password) {
    // Never echo a password: name the value without its user-info part.
    u.username = '';
    u.password = '';
    throw bad('credentials must not be part of the URL (they come from the app code and secret)', u.toString());
  }
  if (!u.hostname) throw bad('the host is missing');
  if (u.hash) throw bad('a #fragment is not allowed');
  if (u.port !== '' && !validPort(u.port)) throw bad('the port is out of range');
  if (u.pathname === '' || u.pathname === '/') u.pathname = SUBSCRIPTION_PATH;
  return { url: u.toString(), insecure: scheme === 'ws' };
}

const validPort = (p: string): boolean => {
  const n = Number(p);
  return Number.isInteger(n) && n >= 1 && n <= 65535;
};

/** An inbound frame whose app_code is ours, classified. */
export type InboundFrame =
  | { kind: 'hi'; workerId: string }
  | { kind: 'ping' }
  | { kind: 'data'; dataId: string | number; workerId?: string; data: unknown }
  | { kind: 'other'; type: string };

export type ParsedFrame =
  | { ok: true; frame: InboundFrame }
  | { ok: false; reason: 'malformed'; message: string }
  | { ok: false; reason: 'foreign'; appCode: unknown; type: unknown };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one text frame `{app_code, type, worker_id, data_id, data}`; frames for another app_code are `foreign`. */
export function parseFrame(text: string, appCode: string): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'malformed', message: `not JSON: ${(err as Error).message}` };
  }
  if (!isRecord(raw)) return { ok: false, reason: 'malformed', message: 'not a JSON object' };
  if (raw.app_code !== appCode) return { ok: false, reason: 'foreign', appCode: raw.app_code, type: raw.type };
  if (typeof raw.type !== 'string') return { ok: false, reason: 'malformed', message: 'type is not a string' };
  const workerId = typeof raw.worker_id === 'string' ? raw.worker_id : undefined;
  switch (raw.type) {
    case 'hi':
      if (workerId === undefined) return { ok: false, reason: 'malformed', message: 'hi frame without a string worker_id' };
      return { ok: true, frame: { kind: 'hi', workerId } };
    case 'ping':
      return { ok: true, frame: { kind: 'ping' } };
    case 'data': {
      const dataId = raw.data_id;
      const okId = (typeof dataId === 'string' && dataId !== '') || (typeof dataId === 'number' && Number.isFinite(dataId));
      if (!okId) return { ok: false, reason: 'malformed', message: 'data frame without a data_id' };
      return { ok: true, frame: { kind: 'data', dataId: dataId as string | number, workerId, data: raw.data } };
    }
    default:
      return { ok: true, frame: { kind: 'other', type: raw.type } };
  }
}

/**
 * Decodes and validates the `data` field of a data frame: a JSON **string** holding AuthRbacData.
 * Returns a clean copy (unknown fields dropped) or what is wrong with it.
 */
export function decodeAuthRbacData(data: unknown): { ok: true; value: AuthRbacData } | { ok: false; error: string } {
  if (typeof data !== 'string') return { ok: false, error: `data is ${data === null ? 'null' : typeof data}, expected a JSON string` };
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch (err) {
    return { ok: false, error: `data is not valid JSON: ${(err as Error).message}` };
  }
  if (!isRecord(v)) return { ok: false, error: 'data is not a JSON object' };
  const errors: string[] = [];
  const nonEmpty = (x: unknown): x is string => typeof x === 'string' && x !== '';
  const optString = (x: unknown, name: string): string | undefined => {
    if (x === undefined || x === null) return undefined;
    if (typeof x !== 'string') errors.push(`${name} must be a string`);
    return typeof x === 'string' ? x : undefined;
  };

  if (v.operation !== 'add' && v.operation !== 'delete') errors.push(`operation must be "add" or "delete" (got ${JSON.stringify(v.operation)})`);
  const principal = isRecord(v.principal) ? v.principal : undefined;
  if (!principal) errors.push('principal is missing');
  else {
    if (!nonEmpty(principal.principal_type)) errors.push('principal.principal_type must be a non-empty string');
    if (!nonEmpty(principal.principal_id)) errors.push('principal.principal_id must be a non-empty string');
  }
  if (!nonEmpty(v.action)) errors.push('action must be a non-empty string');
  if (v.resource_type !== 'cluster' && v.resource_type !== 'namespace') {
    errors.push(`resource_type must be "cluster" or "namespace" (got ${JSON.stringify(v.resource_type)})`);
  }
  const inst = isRecord(v.resource_instance) ? v.resource_instance : undefined;
  let namespace: string | undefined;
  if (!inst) errors.push('resource_instance is missing');
  else {
    if (!nonEmpty(inst.cluster)) errors.push('resource_instance.cluster must be a non-empty string');
    if (v.resource_type === 'namespace') {
      if (!nonEmpty(inst.namespace)) errors.push('resource_instance.namespace must be a non-empty string for resource_type "namespace"');
      else namespace = inst.namespace;
    } else namespace = optString(inst.namespace, 'resource_instance.namespace');
  }
  if (typeof v.policy_from !== 'string') errors.push('policy_from must be a string');
  const scope_type = optString(v.scope_type, 'scope_type');
  const scope_instance = optString(v.scope_instance, 'scope_instance');
  const service = optString(v.service, 'service');
  if (errors.length) return { ok: false, error: errors.join('; ') };

  const value: AuthRbacData = {
    operation: v.operation as AuthRbacData['operation'],
    principal: { principal_type: principal!.principal_type as string, principal_id: principal!.principal_id as string },
    action: v.action as string,
    resource_type: v.resource_type as AuthRbacData['resource_type'],
    resource_instance: { cluster: inst!.cluster as string, ...(namespace !== undefined ? { namespace } : {}) },
    policy_from: v.policy_from as string,
  };
  if (scope_type !== undefined) value.scope_type = scope_type;
  if (scope_instance !== undefined) value.scope_instance = scope_instance;
  if (service !== undefined) value.service = service;
  return { ok: true, value };
}

/** The ack the original sent after a successful sync. */
export function ackFrame(appCode: string, workerId: string, dataId: string | number): string {
  return JSON.stringify({ app_code: appCode, type: 'ack', worker_id: workerId, data_id: dataId });
}
