import 'reflect-metadata';
import path from 'node:path';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { authChecker } from './auth-checker';
import { AdmissionWebhookResolver } from './resolvers/admission-webhook.resolver';
import { ApiTokenResolver } from './resolvers/api-token.resolver';
import { ClusterResolver } from './resolvers/cluster.resolver';
import { KubeconfigResolver } from './resolvers/kubeconfig.resolver';
import { RbacResolver } from './resolvers/rbac.resolver';
import { RegisterTokenResolver } from './resolvers/register-token.resolver';
import { UserResolver } from './resolvers/user.resolver';

/** Repository root, whether running from src (ts) or dist/src (compiled). */
const ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');

/** The committed SDL; `npm run schema:emit` rewrites it and a test fails while it is stale. */
export const SCHEMA_FILE = path.join(ROOT, 'schema.graphql');

export function buildGraphqlSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [UserResolver, ApiTokenResolver, ClusterResolver, RegisterTokenResolver, KubeconfigResolver, AdmissionWebhookResolver, RbacResolver],
    authChecker,
    authMode: 'error',
    // type-graphql 2 validates nothing unless asked; `forbidUnknownValues` would reject plain arg objects.
    validate: { forbidUnknownValues: false },
  });
}

/** Sorted, so the file diffs only when the schema really changes. */
export function printSortedSchema(schema: GraphQLSchema): string {
  return `# Generated from src/graphql by \`npm run schema:emit\`. Do not edit by hand.\n\n${printSchema(lexicographicSortSchema(schema))}\n`;
}
