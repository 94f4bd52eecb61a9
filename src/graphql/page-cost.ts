import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode, type ValueNode } from 'graphql';
import { DEFAULT_PAGE, MAX_PAGE } from '../domain/pagination';
import { limitExceeded } from './limits';

/**
 * Prices an operation by the rows it can make us load: every object field costs one plus its children,
 * times the page size of a connection. graphql-armor's cost limit reads `first` only when it is a literal
 * and prices an omitted one as 1, so `users(first: $n) { … tokens(first: $m) }` passed it at any size;
 * here variables are resolved and an omitted `first` on a connection counts as the default page.
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
      if (!sel.selectionSet) return sum + 1;
      const args = sel.arguments ?? [];
      const explicit = pageOf(args.find((a) => a.name.value === 'first' || a.name.value === 'last')?.value);
      const isConnection = sel.selectionSet.selections.some((s) => s.kind === Kind.FIELD && (s.name.value === 'edges' || s.name.value === 'nodes'));
      const page = explicit ?? (isConnection ? DEFAULT_PAGE : 1);
      return sum + (1 + setCost(sel.selectionSet)) * Math.max(page, 1);
    }, 0);
  return setCost(operation.selectionSet);
}

/** Refuses, before anything executes, an operation whose cost with its variables exceeds `maxCost`. */
export function pageCostLimit<T extends object>(maxCost: number): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, request }) {
          if (!operation) return;
          const fragments: Record<string, FragmentDefinitionNode> = {};
          for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
          const cost = operationCost(operation, fragments, request.variables ?? {});
          // Thrown here, Apollo answers with the error's own status (400) and nothing executes.
          if (cost > maxCost) throw limitExceeded('cost', maxCost, cost, 'ask for smaller pages (first) or fewer nested lists');
        },
      };
    },
  };
}
