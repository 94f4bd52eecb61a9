import type { EntityManager, EntityName, FilterQuery, QueryOrderMap, Ref } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';

/** An entity as a plain row: each to-one relation is the primary key it points at. */
export type Lean<T> = { [K in keyof T]: NonNullable<T[K]> extends Ref<infer U> ? ('id' extends keyof U ? U['id'] : never) | Extract<T[K], null | undefined> : T[K] };

export interface LeanOptions<T> {
  fields?: readonly (keyof T & string)[];
  orderBy?: QueryOrderMap<T>;
  limit?: number;
}

/**
 * Reads rows as plain objects keyed by property name, with custom types (comma-joined lists) converted:
 * no entity is created, tracked or put in the identity map. Hydrating entities took two thirds of a
 * list's CPU time; reads that only turn rows into a response have no use for them. Anything that
 * changes rows must load entities instead.
 */
export async function findLean<T extends object>(em: EntityManager, entity: EntityName<T>, where: FilterQuery<T>, opts: LeanOptions<T> = {}): Promise<Lean<T>[]> {
  const qb = (em as SqlEntityManager).createQueryBuilder(entity).select(opts.fields ? [...opts.fields] : '*').where(where);
  if (opts.orderBy) qb.orderBy(opts.orderBy);
  if (opts.limit !== undefined) qb.limit(opts.limit);
  const rows = (await qb.execute('all', true)) as Record<string, unknown>[];
  const meta = em.getMetadata().get<T>(typeof entity === 'string' ? entity : (entity as { name: string }).name);
  const platform = em.getPlatform();
  const custom = meta.props.filter((p) => p.customType && (!opts.fields || opts.fields.includes(p.name as keyof T & string)));
  if (custom.length) {
    for (const row of rows) for (const p of custom) if (row[p.name] !== undefined) row[p.name] = p.customType!.convertToJSValue(row[p.name], platform);
  }
  return rows as Lean<T>[];
}

/**
 * `findLean` for `prop IN (values)`, the query of every per-field loader: the statement is built by knex
 * directly, without MikroORM's criteria processing and query builder (about two thirds of a loader's CPU
 * time); rows are mapped the same way (column to property names, dates, custom types).
 */
export async function findLeanIn<T extends object>(em: EntityManager, entity: EntityName<T>, prop: keyof T & string, values: readonly unknown[], fields?: readonly (keyof T & string)[]): Promise<Lean<T>[]> {
  if (values.length === 0) return [];
  const sql = em as SqlEntityManager;
  const meta = em.getMetadata().get<T>(typeof entity === 'string' ? entity : (entity as { name: string }).name);
  const props = meta.properties as Record<string, { fieldNames: string[] }>;
  const column = (name: string): string => props[name]!.fieldNames[0]!;
  const query = sql
    .getKnex()
    .select(fields ? fields.map(column) : '*')
    .from(meta.tableName)
    .whereIn(column(prop), [...(values as string[])]);
  const raw = (await sql.getConnection('read').execute(query, [], 'all', sql.getTransactionContext())) as Record<string, unknown>[];
  const driver = sql.getDriver();
  const platform = em.getPlatform();
  const custom = meta.props.filter((p) => p.customType && (!fields || fields.includes(p.name as keyof T & string)));
  return raw.map((r) => {
    const row = driver.mapResult(r as never, meta) as Record<string, unknown>;
    for (const p of custom) if (row[p.name] !== undefined) row[p.name] = p.customType!.convertToJSValue(row[p.name], platform);
    return row as Lean<T>;
  });
}
