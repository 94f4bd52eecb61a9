import type { EntityManager } from '@mikro-orm/core';
import type { Logger } from '../log';
import { Cluster } from '../store/entities';

/** One side of a collision: a cluster and which of its names holds the key. */
export interface CollidingName {
  clusterId: string;
  as: 'id' | 'identifier';
}

export interface KeyCollision {
  /** The lower-cased key both names spell. */
  key: string;
  a: CollidingName;
  b: CollidingName;
}

const describe = (n: CollidingName): string => `the ${n.as === 'id' ? 'id' : 'tunnel identifier'} of cluster "${n.clusterId}"`;

/**
 * Pairs of clusters whose ids and identifiers collide without regard to case. The key table refuses new
 * ones, so these are rows written before it existed (its backfill kept the first owner of each key). One
 * read of two columns of every cluster, at start only.
 */
export async function findKeyCollisions(em: EntityManager): Promise<KeyCollision[]> {
  const rows = await em.find(Cluster, {}, { fields: ['id', 'identifier'], orderBy: { id: 'asc' }, disableIdentityMap: true });
  const byKey = new Map<string, CollidingName[]>();
  for (const c of rows) {
    for (const as of ['id', 'identifier'] as const) {
      const key = c[as].toLowerCase();
      const names = byKey.get(key);
      if (names) names.push({ clusterId: c.id, as });
      else byKey.set(key, [{ clusterId: c.id, as }]);
    }
  }
  const out: KeyCollision[] = [];
  for (const [key, names] of byKey) {
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        if (names[i]!.clusterId !== names[j]!.clusterId) out.push({ key, a: names[i]!, b: names[j]! });
      }
    }
  }
  return out;
}

/**
 * Says at start, in one error line, which clusters collide: the proxy refuses their shared keys (409)
 * until an operator deletes or renames one cluster of each pair.
 */
export async function reportKeyCollisions(em: EntityManager, logger: Pick<Logger, 'error'>): Promise<KeyCollision[]> {
  const collisions = await findKeyCollisions(em);
  if (collisions.length) {
    const pairs = collisions.map((c) => `${describe(c.a)} equals ${describe(c.b)} ("${c.key}")`);
    logger.error(
      { collisions: collisions.map((c) => ({ key: c.key, clusters: [c.a, c.b] })) },
      `cluster ids and tunnel identifiers collide: ${pairs.join('; ')}. Tunnel requests by these keys are refused (409 Conflict) until an operator deletes or renames one cluster of each pair`,
    );
  }
  return collisions;
}
