import type { EntityMetadata } from '@mikro-orm/core';

/** `alias.column as alias__column` for the given properties (every persisted one when none are given). */
export function prefixedColumns(meta: EntityMetadata, alias: string, fields?: readonly string[]): string[] {
  const props = fields ? fields.map((f) => meta.properties[f as keyof typeof meta.properties]!) : meta.props.filter((p) => p.fieldNames?.length && p.persist !== false);
  return props.flatMap((p) => p.fieldNames.map((f) => `${alias}.${f} as ${alias}__${f}`));
}

/** The columns of one joined table, named as in its own table again. */
export function unprefix(row: Record<string, unknown>, alias: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const prefix = `${alias}__`;
  for (const key in row) if (key.startsWith(prefix)) out[key.slice(prefix.length)] = row[key];
  return out;
}
