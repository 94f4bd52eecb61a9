import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphqlContext } from './context';

/**
 * The request each error was raised in, so formatError (which Apollo calls without the context) can name
 * the request id that is also in the `x-request-id` header and the logs. A WeakMap filled from the
 * context where errors are seen, rather than an AsyncLocalStorage around the request: a store entered
 * around the request is propagated to every promise it creates (thousands for a large page).
 */
const requestIds = new WeakMap<object, string>();

export function rememberRequestId(error: unknown, requestId: string): void {
  if (error !== null && typeof error === 'object') requestIds.set(error, requestId);
}

/** The id remembered for the error or for any error it wraps (Apollo wraps a failed context's error). */
export function requestIdOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { originalError?: unknown }).originalError, depth += 1) {
    const id = requestIds.get(e);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** Remembers the request of every error an operation ran into; Apollo calls this before formatting them. */
export function requestIdPlugin(): ApolloServerPlugin<GraphqlContext> {
  return {
    async requestDidStart({ contextValue }) {
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) rememberRequestId(error, contextValue.request.requestId);
        },
      };
    },
  };
}
