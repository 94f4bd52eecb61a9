/**
 * Node naming and registration as the original's services do it (reference §6): Curator-style
 * `CreateProtectedEphemeralSequential(<dir>/<ip>)` gives `_c_<32 hex guid>-<ip><10-digit sequence>`;
 * readers order children by the last 10 characters and ignore names of 10 characters or fewer.
 */
import { randomUUID } from 'node:crypto';
import { ensurePath, isNoNode, ZK_CREATE, type ZkAcl, type ZkClient } from './zk-client';
import type { ServerInfo } from './types';

export const BCS_ENDPOINTS_BASE = '/bcs/services/endpoints';
const SEQUENCE_LENGTH = 10;

/** Children that carry a sequence suffix, ordered by it (ties by full name, for a stable order). */
export function orderBySequence(names: readonly string[]): string[] {
  return names
    .filter((n) => n.length > SEQUENCE_LENGTH)
    .sort((a, b) => {
      const sa = a.slice(-SEQUENCE_LENGTH);
      const sb = b.slice(-SEQUENCE_LENGTH);
      return sa < sb ? -1 : sa > sb ? 1 : a < b ? -1 : a > b ? 1 : 0;
    });
}

/** A 32-hex-digit guid as Curator's protected mode writes it. */
export const protectedGuid = (): string => randomUUID().replace(/-/g, '');

/** The ServerInfo of a node, or undefined when the data is not a usable ServerInfo (never routed to). */
export function parseServerInfo(data: Buffer | string): ServerInfo | undefined {
  try {
    const value: unknown = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const info = value as Record<string, unknown>;
    if (typeof info.ip !== 'string' || !info.ip) return undefined;
    if (typeof info.port !== 'number' || !Number.isInteger(info.port) || info.port <= 0 || info.port > 65535) return undefined;
    return info as ServerInfo;
  } catch {
    return undefined;
  }
}

/**
 * Creates `<dir>/_c_<guid>-<name><seq>` as an ephemeral sequential node (parents created as needed) and
 * returns its path. "Protected": after a connection loss the create may have succeeded on the server, so
 * an existing child carrying the same guid is adopted instead of creating a second node.
 */
export async function createProtectedEphemeralSequential(
  client: ZkClient,
  dir: string,
  name: string,
  data: string | Buffer,
  opts: { guid: string; acl?: ZkAcl[] },
): Promise<string> {
  const prefix = `_c_${opts.guid}-`;
  const adopt = async (): Promise<string | undefined> => {
    try {
      const found = (await client.getChildren(dir)).find((c) => c.startsWith(prefix));
      return found && `${dir}/${found}`;
    } catch (err) {
      if (isNoNode(err)) return undefined;
      throw err;
    }
  };
  const existing = await adopt();
  if (existing) return existing;
  let created: string;
  try {
    created = await client.create(`${dir}/${prefix}${name}`, data, ZK_CREATE.EPHEMERAL_SEQUENTIAL);
  } catch (err) {
    if (isNoNode(err)) {
      await ensurePath(client, dir, opts.acl);
      created = await client.create(`${dir}/${prefix}${name}`, data, ZK_CREATE.EPHEMERAL_SEQUENTIAL);
    } else throw err; // after a connection loss the caller retries, and `adopt` finds a node that was created
  }
  if (opts.acl) await client.setAcl(created, -1, opts.acl);
  return created;
}
