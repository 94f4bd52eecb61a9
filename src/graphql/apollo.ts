import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { Runtime } from '../runtime';
import type { GraphqlContext } from './context';
import { createErrorFormatter } from './errors';
import { documentLimits, MAX_TOKENS } from './limits';
import { knownOperationTypes } from './operation-type-rule';
import { storeOutagePlugin } from './outage-plugin';
import { pageCostLimit } from './page-cost';
import { requestIdPlugin } from './request-ids';
import { RESPONSE_BOUNDS, stringifyBounded } from './response-bounds';

/**
 * Apollo with every default that matters stated: limits checked before execution, no batching, no
 * APQ cache an anonymous client could fill, CSRF prevention on, nothing decided by NODE_ENV.
 */
export function createApolloServer(schema: GraphQLSchema, rt: Runtime): ApolloServer<GraphqlContext> {
  const limits = rt.config.graphql;
  const armor = documentLimits(limits);
  return new ApolloServer<GraphqlContext>({
    schema,
    plugins: [
      ...armor.plugins,
      pageCostLimit<GraphqlContext>(limits.maxCost),
      ApolloServerPluginLandingPageDisabled(),
      // Nothing here sets cache hints, and the default plugin wraps every field resolver of the schema to
      // collect them (a hook call per field of every row).
      ApolloServerPluginCacheControlDisabled(),
      storeOutagePlugin<GraphqlContext>(rt.storeHealth),
      requestIdPlugin(),
    ],
    validationRules: [knownOperationTypes, ...armor.validationRules],
    parseOptions: { maxTokens: MAX_TOKENS },
    // graphql-js stops collecting errors at these counts (and says so), so none piles up thousands.
    validationOptions: { maxErrors: RESPONSE_BOUNDS.errors },
    executionOptions: { maxCoercionErrors: RESPONSE_BOUNDS.errors },
    stringifyResult: stringifyBounded,
    allowBatchedHttpRequests: false,
    persistedQueries: false,
    csrfPrevention: true,
    introspection: limits.introspection,
    hideSchemaDetailsFromClientErrors: true,
    includeStacktraceInErrorResponses: false,
    // The app owns signals and shutdown order (listeners first, then Apollo, then the store).
    stopOnTerminationSignals: false,
    formatError: createErrorFormatter(rt.logger),
    logger: {
      debug: (msg: unknown) => rt.logger.debug(String(msg)),
      info: (msg: unknown) => rt.logger.info(String(msg)),
      warn: (msg: unknown) => rt.logger.warn(String(msg)),
      error: (msg: unknown) => rt.logger.error(String(msg)),
    },
  });
}
