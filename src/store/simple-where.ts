import type { EntityMetadata } from '@mikro-orm/core';
import type { Knex } from '@mikro-orm/knex';

type Value = string | number | boolean;

interface Condition {
  column: string;
  op: '=' | '!=' | '>' | '>=' | '<' | '<=' | 'like' | 'in';
  value: Value | Value[] | null;
}

const OPERATORS: Record<string, Condition['op']> = { $eq: '=', $ne: '!=', $gt: '>', $gte: '>=', $lt: '<', $lte: '<=', $like: 'like', $in: 'in' };

const isValue = (v: unknown): v is Value => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

function column(meta: EntityMetadata, name: string, value: unknown): string | undefined {
  const prop = meta.properties[name as keyof typeof meta.properties];
  if (!prop || prop.customType || prop.fieldNames?.length !== 1) return undefined;
  // Non-null values only against columns whose values need no conversion (no dates, no custom types).
  const plain = prop.kind === 'scalar' ? ['string', 'number', 'boolean'].includes(prop.runtimeType) : prop.kind === 'm:1';
  return value === null || plain ? prop.fieldNames[0] : undefined;
}

/**
 * The conditions of a filter that only compares plain columns with strings, numbers, booleans or null
 * (equality, $eq/$ne, $gt/$gte/$lt/$lte, $like, $in, $and): the filters of the lists. Undefined for
 * anything else, which callers leave to MikroORM's query builder.
 */
export function simpleConditions(meta: EntityMetadata, where: object): Condition[] | undefined {
  const out: Condition[] = [];
  for (const [key, value] of Object.entries(where)) {
    if (key === '$and' && Array.isArray(value)) {
      for (const part of value) {
        const inner = part !== null && typeof part === 'object' ? simpleConditions(meta, part as object) : undefined;
        if (!inner) return undefined;
        out.push(...inner);
      }
      continue;
    }
    if (value === null || isValue(value)) {
      const col = column(meta, key, value);
      if (!col) return undefined;
      out.push({ column: col, op: '=', value });
      continue;
    }
    if (typeof value !== 'object' || Array.isArray(value)) return undefined;
    for (const [operator, operand] of Object.entries(value as object)) {
      const op = OPERATORS[operator];
      const ok = op === 'in' ? Array.isArray(operand) && operand.every(isValue) : operand === null ? op === '=' || op === '!=' : isValue(operand);
      const col = op && ok ? column(meta, key, operand) : undefined;
      if (!op || !col) return undefined;
      out.push({ column: col, op, value: operand as Condition['value'] });
    }
  }
  return out;
}

export function applyConditions(query: Knex.QueryBuilder, conditions: readonly Condition[]): Knex.QueryBuilder {
  for (const { column, op, value } of conditions) {
    if (value === null) query = op === '=' ? query.whereNull(column) : query.whereNotNull(column);
    else if (op === 'in') query = query.whereIn(column, value as Value[]);
    else query = query.where(column, op, value as Value);
  }
  return query;
}
