import type { Runtime } from '../runtime';
import type { Mount } from '../http/types';

/** Mounts /graphql (API and the offline GraphiQL page). Placeholder until the GraphQL layer lands. */
export async function createGraphqlMounts(_rt: Runtime): Promise<{ mounts: Mount[]; stop(): Promise<void> }> {
  return { mounts: [], stop: async () => undefined };
}
