import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

function collect(set: SelectionSetNode, info: GraphQLResolveInfo, into: Map<string, SelectionSetNode[]>): void {
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      const sets = into.get(sel.name.value) ?? [];
      if (sel.selectionSet) sets.push(sel.selectionSet);
      into.set(sel.name.value, sets);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      collect(sel.selectionSet, info, into);
    } else {
      const fragment = info.fragments[sel.name.value];
      if (fragment) collect(fragment.selectionSet, info, into);
    }
  }
}

/**
 * The field names selected at `path` below the resolving field (`['edges', 'node']`: a connection's
 * row fields), through fragments and aliases. @skip/@include are not evaluated: a field they leave out
 * is still named, so a caller prefetching by this list at worst reads a column nobody shows.
 */
export function selectedFieldsAt(info: GraphQLResolveInfo, path: readonly string[]): Set<string> {
  let sets = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  for (const name of path) {
    const next: SelectionSetNode[] = [];
    for (const set of sets) {
      const fields = new Map<string, SelectionSetNode[]>();
      collect(set, info, fields);
      next.push(...(fields.get(name) ?? []));
    }
    sets = next;
  }
  const names = new Map<string, SelectionSetNode[]>();
  for (const set of sets) collect(set, info, names);
  return new Set(names.keys());
}
