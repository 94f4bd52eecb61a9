import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLSchema } from 'graphql';
import type { Runtime } from '../runtime';
import type { GraphqlContext } from './context';
import { createErrorFormatter } from './errors';
import { storeOutagePlugin } from './outage-plugin';
import { pageCostLimit } from './page-cost';

/**
 * Apollo with every default that matters stated: limits checked before execution, no batching, no
 * APQ cache an anonymous client could fill, CSRF prevention on, nothing decided by NODE_ENV.
 */
export function createApolloServer(schema: GraphQLSchema, rt: Runtime): ApolloServer<GraphqlContext> {
  const limits = rt.config.graphql;
  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth },
    costLimit: { maxCost: limits.maxCost },
    maxAliases: { n: limits.maxAliases },
    blockFieldSuggestion: { enabled: true },
  }).protect();
  return new ApolloServer<GraphqlContext>({
    schema,
    plugins: [...armor.plugins, pageCostLimit<GraphqlContext>(limits.maxCost), ApolloServerPluginLandingPageDisabled(), storeOutagePlugin<GraphqlContext>(rt.storeHealth)],
    validationRules: armor.validationRules,
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
