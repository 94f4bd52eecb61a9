import { graphiqlAssetMounts } from '../http/graphiql';
import type { Mount } from '../http/types';
import type { Runtime } from '../runtime';
import { createApolloServer } from './apollo';
import { createGraphqlContext, type RbacAccess } from './context';
import { GRAPHQL_PATH, graphqlHttpHandler } from './http-handler';
import { buildGraphqlSchema } from './schema';

/** Mounts /graphql: the management API for POST/GET, the offline GraphiQL page for browsers. */
export async function createGraphqlMounts(rt: Runtime, rbac: RbacAccess): Promise<{ mounts: Mount[]; stop(): Promise<void> }> {
  const server = createApolloServer(await buildGraphqlSchema(), rt);
  await server.start();
  const api: Mount = { prefix: GRAPHQL_PATH, handler: graphqlHttpHandler(server, (req, info) => createGraphqlContext(rt, req, info, rbac)) };
  // Asset mounts first: the first matching prefix wins, and they may live under /graphql/.
  return { mounts: [...graphiqlAssetMounts(), api], stop: () => server.stop() };
}
