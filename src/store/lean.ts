import type { EntityManager, EntityMetadata, EntityName, FilterQuery, QueryOrderMap, Ref } from '@mikro-orm/core';
import type { Knex, SqlEntityManager } from '@mikro-orm/knex';
import { applyConditions, simpleConditions } from './simple-where';

/** An entity as a plain row: each to-one relation is the primary key it points at. */
export type Lean<T> = { [K in keyof T]: NonNullable<T[K]> extends Ref<infer U> ? ('id' extends keyof U ? U['id'] : never) | Extract<T[K], null | undefined> : T[K] };

export interface LeanOptions<T> {
  fields?: readonly (keyof T & string)[];
  orderBy?: QueryOrderMap<T>;
  limit?: number;
}

export function metadataOf<T extends object>(em: EntityManager, entity: EntityName<T>): EntityMetadata<T> {
  return em.getMetadata().get<T>(typeof entity === 'string' ? entity : (entity as { name: string }).name);
}

export function columnOf<T>(meta: EntityMetadata<T>, name: string): string {
  return (meta.properties as Record<string, { fieldNames: string[] }>)[name]!.fieldNames[0]!;
}

/** Runs a knex query on the request's connection (or transaction) and maps its rows as a find would, without entities. */
async function readRows<T extends object>(em: EntityManager, meta: EntityMetadata<T>, query: Knex.QueryBuilder, fields?: readonly (keyof T & string)[]): Promise<Lean<T>[]> {
  const sql = em as SqlEntityManager;
  const raw = (await sql.getConnection('read').execute(query, [], 'all', sql.getTransactionContext())) as Record<string, unknown>[];
  return mapLean(em, meta, raw, fields);
}

/** Database rows (column names) as lean rows: property names, dates, custom types. */
export function mapLean<T extends object>(em: EntityManager, meta: EntityMetadata<T>, raw: Record<string, unknown>[], fields?: readonly (keyof T & string)[]): Lean<T>[] {
  const driver = em.getDriver();
  return withCustomTypes(em, meta, raw.map((r) => driver.mapResult(r as never, meta) as Record<string, unknown>), fields);
}

/** Converts the custom-typed properties (comma-joined lists) of mapped rows, in place. */
function withCustomTypes<T extends object>(em: EntityManager, meta: EntityMetadata<T>, rows: Record<string, unknown>[], fields?: readonly (keyof T & string)[]): Lean<T>[] {
  const platform = em.getPlatform();
  const custom = meta.props.filter((p) => p.customType && (!fields || fields.includes(p.name as keyof T & string)));
  if (custom.length) {
    for (const row of rows) for (const p of custom) if (row[p.name] !== undefined) row[p.name] = p.customType!.convertToJSValue(row[p.name], platform);
  }
  return rows as Lean<T>[];
}

function select<T>(em: EntityManager, meta: EntityMetadata<T>, fields?: readonly (keyof T & string)[]): Knex.QueryBuilder {
  return (em as SqlEntityManager)
    .getKnex()
    .select(fields ? fields.map((f) => columnOf(meta, f)) : '*')
    .from(meta.tableName);
}

/**
 * Reads rows as plain objects keyed by property name, with custom types (comma-joined lists) converted:
 * no entity is created, tracked or put in the identity map. Hydrating entities took two thirds of a
 * list's CPU time; reads that only turn rows into a response have no use for them. Anything that
 * changes rows must load entities instead. Filters of plain columns are built with knex directly
 * (MikroORM's query builder was a sixth of a 50-cluster page's CPU time); others go through it.
 */
export async function findLean<T extends object>(em: EntityManager, entity: EntityName<T>, where: FilterQuery<T>, opts: LeanOptions<T> = {}): Promise<Lean<T>[]> {
  const meta = metadataOf(em, entity);
  const conditions = simpleConditions(meta, where as object);
  const order = Object.entries(opts.orderBy ?? {});
  if (conditions && order.every(([prop, dir]) => prop in meta.properties && (dir === 'asc' || dir === 'desc'))) {
    let query = applyConditions(select(em, meta, opts.fields), conditions);
    for (const [prop, dir] of order) query = query.orderBy(columnOf(meta, prop), dir as 'asc' | 'desc');
    if (opts.limit !== undefined) query = query.limit(opts.limit);
    return readRows(em, meta, query, opts.fields);
  }
  const qb = (em as SqlEntityManager).createQueryBuilder(entity).select(opts.fields ? [...opts.fields] : '*').where(where);
  if (opts.orderBy) qb.orderBy(opts.orderBy);
  if (opts.limit !== undefined) qb.limit(opts.limit);
  return withCustomTypes(em, meta, (await qb.execute('all', true)) as Record<string, unknown>[], opts.fields);
}

/**
 * `findLean` for `prop IN (values)`, the query of every per-field loader: the statement is built by knex
 * directly, without MikroORM's criteria processing and query builder (about two thirds of a loader's CPU
 * time); rows are mapped the same way (column to property names, dates, custom types).
 */
export async function findLeanIn<T extends object>(em: EntityManager, entity: EntityName<T>, prop: keyof T & string, values: readonly unknown[], fields?: readonly (keyof T & string)[]): Promise<Lean<T>[]> {
  if (values.length === 0) return [];
  const meta = metadataOf(em, entity);
  return readRows(em, meta, select(em, meta, fields).whereIn(columnOf(meta, prop), [...(values as string[])]), fields);
}
