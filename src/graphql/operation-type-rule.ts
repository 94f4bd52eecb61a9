import { GraphQLError, type ValidationRule } from 'graphql';

/**
 * graphql-js 16 validates a `subscription` against a schema without subscriptions and only fails at
 * execution, where the error looks like ours (masked, logged, HTTP 200). Refused here, it is the
 * client's: GRAPHQL_VALIDATION_FAILED, HTTP 400.
 */
export const knownOperationTypes: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (!context.getSchema().getRootType(node.operation)) {
      context.reportError(new GraphQLError(`this schema has no ${node.operation} operations`, { nodes: node }));
    }
  },
});
