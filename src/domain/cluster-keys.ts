import { raw, ref, type EntityManager } from '@mikro-orm/core';
import { ConflictError } from '../errors';
import { Cluster, ClusterKey } from '../store/entities';

/**
 * Cluster ids and tunnel identifiers share one namespace (the `cluster_keys` table), compared without
 * regard to case: a tunnel path may name a cluster by either, on either database.
 */
export const clusterKeyOf = (idOrIdentifier: string): string => idOrIdentifier.toLowerCase();

/** How many identifiers a creation draws before giving up; one collision is already beyond belief. */
export const IDENTIFIER_ATTEMPTS = 5;

/** The `cluster_keys` rows a new cluster owns; persisted in the flush that inserts the cluster. */
export function keysOf(cluster: Cluster): ClusterKey[] {
  return [cluster.id, cluster.identifier].map((value) => keyRow(clusterKeyOf(value), cluster));
}

function keyRow(key: string, cluster: Cluster): ClusterKey {
  const row = new ClusterKey();
  row.key = key;
  row.cluster = ref(cluster);
  return row;
}

/** Which cluster owns a key, if any. */
async function ownerOf(em: EntityManager, key: string): Promise<string | undefined> {
  const row = await em.findOne(ClusterKey, { key }, { fields: ['cluster'], disableIdentityMap: true });
  return row?.cluster.id;
}

/** The conflict for an id whose key another cluster owns, saying whether as its id or its identifier. */
function idTaken(id: string, owner: string): ConflictError {
  if (owner === id) return new ConflictError(`cluster ${id} already exists`, { id });
  if (clusterKeyOf(owner) === clusterKeyOf(id)) {
    return new ConflictError(`cluster ${id} already exists as "${owner}": cluster ids are compared without regard to case`, { id, existing: owner });
  }
  return new ConflictError(`cluster id "${id}" is already in use as the tunnel identifier of cluster "${owner}"`, { id, existing: owner });
}

/**
 * Refuses an id another cluster owns and draws an identifier no cluster owns, regenerating on a
 * collision. A read before the write, for a precise error; the key table's primary key decides races.
 */
export async function claimableIdentifier(em: EntityManager, id: string, suffix: () => string): Promise<string> {
  const idKey = clusterKeyOf(id);
  for (let attempt = 0; attempt < IDENTIFIER_ATTEMPTS; attempt++) {
    const identifier = clusterKeyOf(`${id}-${suffix()}`);
    const taken = await em.find(ClusterKey, { key: { $in: [idKey, identifier] } }, { fields: ['key', 'cluster'], disableIdentityMap: true });
    const byId = taken.find((k) => k.key === idKey);
    if (byId) throw idTaken(id, byId.cluster.id);
    if (!taken.length) return identifier;
  }
  throw new ConflictError(`could not draw a tunnel identifier for cluster ${id} that no other cluster uses; try again`, { id });
}

/** After the database refused a creation: the precise conflict when the id is taken, else a general one. */
export async function conflictAfterRace(em: EntityManager, id: string): Promise<ConflictError> {
  const owner = await ownerOf(em, clusterKeyOf(id));
  if (owner) return idTaken(id, owner);
  return new ConflictError(`cluster id "${id}" is already in use as the id or tunnel identifier of another cluster`, { id });
}

/**
 * Every cluster whose id or identifier equals one of `keys` without regard to case. More than one per key
 * only in databases that held colliding rows before the key table existed. A scan (`lower()` defeats
 * the indexes), which callers cache or run rarely.
 */
export async function clustersByKeys(em: EntityManager, keys: readonly string[], excludeId?: string): Promise<Cluster[]> {
  const ks = keys.map(clusterKeyOf);
  const where = { $or: [{ [raw('lower(id)')]: { $in: ks } }, { [raw('lower(identifier)')]: { $in: ks } }] };
  return em.find(Cluster, excludeId === undefined ? where : { $and: [where, { id: { $ne: excludeId } }] }, { orderBy: { id: 'asc' } });
}

/**
 * Frees a deleted cluster's keys so its id can be registered again. A cluster that collided with it
 * before the key table existed (the first owner kept the key) inherits the key, so the namespace
 * stays whole. Runs in the deleting transaction.
 */
export async function releaseKeys(em: EntityManager, deleted: Cluster): Promise<void> {
  const owned = (await em.find(ClusterKey, { cluster: deleted.id }, { fields: ['key'], disableIdentityMap: true })).map((k) => k.key);
  await em.nativeDelete(ClusterKey, { cluster: deleted.id });
  if (!owned.length) return;
  const survivors = await clustersByKeys(em, owned, deleted.id);
  for (const key of owned) {
    const heir = survivors.find((c) => clusterKeyOf(c.id) === key || clusterKeyOf(c.identifier) === key);
    if (heir) em.persist(keyRow(key, heir));
  }
}
