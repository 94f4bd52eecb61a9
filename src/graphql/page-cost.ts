import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode, type ValueNode } from 'graphql';
import { DEFAULT_PAGE, MAX_PAGE } from '../domain/pagination';
import { limitExceeded } from './limits';

/**
 * Prices an operation by the rows it can make us load: every object field costs one plus its children,
 * times the page size of a connection; scalars cost nothing, since a row's width is bounded by its
 * type and the document's token limit. So the documented page (`first` up to 500) of any list, with
 * every nested status field, stays under the default `graphql.max_cost` (a 500-cluster page with
 * creator, all statuses and pageInfo costs 3,002), while lists nested in lists multiply and are refused.
 * Variables are resolved and an omitted `first` on a connection counts as the default page
 * (graphql-armor's static cost read only literals and priced an omitted one as 1).
 */
export function operationCost(operation: OperationDefinitionNode, fragments: Record<string, FragmentDefinitionNode>, variables: Record<string, unknown>): number {
  const pageOf = (value: ValueNode | undefined): number | undefined => {
    if (!value) return undefined;
    const raw = value.kind === Kind.VARIABLE ? variables[value.name.value] : value.kind === Kind.INT ? Number(value.value) : undefined;
    return typeof raw === 'number' && Number.isFinite(raw) ? Math.min(Math.max(raw, 0), MAX_PAGE) : undefined;
  };
  const setCost = (set: SelectionSetNode): number =>
    set.selections.reduce((sum, sel) => {
      if (sel.kind === Kind.INLINE_FRAGMENT) return sum + setCost(sel.selectionSet);
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments[sel.name.value];
        return sum + (fragment ? setCost(fragment.selectionSet) : 0);
      }
      if (!sel.selectionSet) return sum;
      const args = sel.arguments ?? [];
      const explicit = pageOf(args.find((a) => a.name.value === 'first' || a.name.value === 'last')?.value);
      const isRows = (s: SelectionSetNode['selections'][number]): boolean => s.kind === Kind.FIELD && (s.name.value === 'edges' || s.name.value === 'nodes');
      if (!sel.selectionSet.selections.some(isRows)) return sum + (1 + setCost(sel.selectionSet)) * Math.max(explicit ?? 1, 1);
      // A connection: its rows are the edges (or nodes); pageInfo and totalCount are loaded once per page.
      const page = Math.max(explicit ?? DEFAULT_PAGE, 1);
      const rows = { ...sel.selectionSet, selections: sel.selectionSet.selections.filter(isRows) };
      const rest = { ...sel.selectionSet, selections: sel.selectionSet.selections.filter((s) => !isRows(s)) };
      return sum + 1 + setCost(rows) * page + setCost(rest);
    }, 0);
  return setCost(operation.selectionSet);
}

/** The cost of operations without variables, by their (cached, parsed once) operation node. */
const staticCosts = new WeakMap<OperationDefinitionNode, number>();

/** Refuses, before anything executes, an operation whose cost with its variables exceeds `maxCost`. */
export function pageCostLimit<T extends object>(maxCost: number): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, request }) {
          if (!operation) return;
          const fixed = !operation.variableDefinitions?.length;
          let cost = fixed ? staticCosts.get(operation) : undefined;
          if (cost === undefined) {
            const fragments: Record<string, FragmentDefinitionNode> = {};
            for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
            cost = operationCost(operation, fragments, request.variables ?? {});
            if (fixed) staticCosts.set(operation, cost);
          }
          // Thrown here, Apollo answers with the error's own status (400) and nothing executes.
          if (cost > maxCost) throw limitExceeded('cost', maxCost, cost, 'ask for smaller pages (first), following pageInfo.endCursor with after, or fewer nested lists');
        },
      };
    },
  };
}
