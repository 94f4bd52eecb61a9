/** The operations bench:graphql loads, shared by the gateway, the bare Apollo and the load generator. */

export const CLUSTERS = 200;
export const USERS = 50;

/** The SaaS front end's main screen: clusters with creator and both statuses. */
export const clusterPage = (first: number): string => `{ clusters(first: ${first}) {
  edges { node {
    id identifier clusterType projectId createdAt
    creator { name }
    credentialStatus { serverAddresses reportedAt caFingerprint }
    registerTokenStatus { active createdAt }
  } }
  pageInfo { hasNextPage endCursor }
} }`;

export const USERS_PAGE = `{ users(first: ${USERS + 10}) {
  edges { node { id name userType isSuperUser groups createdAt disabledAt } }
  pageInfo { hasNextPage endCursor }
} }`;

/** Idempotent, so the load can repeat it: the user is enabled already. */
export const enableUser = (id: number): string => `mutation { enableUser(id: ${id}) { id name disabledAt updatedAt } }`;

export interface Scenario {
  name: string;
  query: string;
}

export function scenarios(userId: number): Scenario[] {
  return [
    { name: 'clusters(first: 50)', query: clusterPage(50) },
    { name: 'clusters(first: 200)', query: clusterPage(CLUSTERS) },
    { name: 'users(first: 60)', query: USERS_PAGE },
    { name: 'mutation enableUser', query: enableUser(userId) },
  ];
}

/** What a child process tells the bench once it listens. */
export interface Ready {
  /** Where operations are POSTed. */
  url: string;
  token: string;
  /** A seeded, enabled user for the mutation. */
  userId: number;
}

/** What the gateway reports for one request of an operation, measured alone after the load. */
export interface Footprint {
  statements: number;
  entities: number;
}
