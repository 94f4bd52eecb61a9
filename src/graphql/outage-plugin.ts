import type { ApolloServerPlugin } from '@apollo/server';
import { STORE_RETRY_AFTER_SECONDS, type StoreOutageReporter } from '../store/outage';

/**
 * formatError renders an unavailable dependency as `extensions.code: UNAVAILABLE` but cannot set the HTTP
 * status; this plugin does: such a response is a 503 with `Retry-After`, as on the REST and proxy edges.
 * It also tells the store health of every failure, so an outage is logged once, with its cause (formatError
 * logs nothing for it). Authentication failing on the store is answered by the context (context.ts).
 */
export function storeOutagePlugin<TContext extends object>(health: StoreOutageReporter): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          // The GraphQLError wraps what the resolver threw; the health looks through originalError and cause.
          for (const error of errors) health.report(error);
        },
        async willSendResponse({ response }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          if (!errors?.some((e) => e.extensions?.['code'] === 'UNAVAILABLE')) return;
          response.http.status = 503;
          response.http.headers.set('retry-after', String(STORE_RETRY_AFTER_SECONDS));
        },
      };
    },
  };
}
