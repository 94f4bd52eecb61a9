/**
 * bench:graphql's floor: a bare Apollo Server 5 answering the gateway's schema (schema.graphql) for the
 * same operations from memory: no ORM, no authentication, no limits. Started with fork(); says `Ready`.
 */
import fs from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { SCHEMA_FILE } from '../../src/graphql/schema';
import { CLUSTERS, USERS, type Ready } from './graphql-queries';

const now = new Date();
const users = Array.from({ length: USERS + 1 }, (_, i) => ({
  id: i + 1,
  name: i === 0 ? 'admin' : `bench-user-${i - 1}`,
  userType: 'PLAIN',
  isSuperUser: i % 10 === 0,
  groups: ['bench'],
  createdAt: now,
  updatedAt: now,
  disabledAt: null,
}));
const clusters = Array.from({ length: CLUSTERS }, (_, i) => ({
  id: `BCS-K8S-${String(i).padStart(5, '0')}`,
  identifier: `bcs-k8s-${String(i).padStart(5, '0')}-abcdefghijklmnop`,
  provider: 'BCS',
  clusterType: 'K8S',
  projectId: `project-${i % 7}`,
  tkeClusterId: null,
  tkeClusterRegion: null,
  createdAt: now,
  creator: users[0],
  credentialStatus: { serverAddresses: [`https://10.0.${i >> 8}.${i & 255}:6443`], reportedAt: now, caFingerprint: 'AB:CD'.repeat(19), reporterAddress: '10.1.0.9' },
  registerTokenStatus: { active: true, createdAt: now, expiresAt: null },
}));

/** A Relay page over an in-memory list, cursors as the gateway writes them. */
function page<T extends { id: string | number }>(items: T[], first: number | undefined): object {
  const slice = items.slice(0, first ?? 50);
  const edges = slice.map((node) => ({ cursor: Buffer.from(JSON.stringify([node.id])).toString('base64url'), node }));
  return { edges, pageInfo: { hasNextPage: items.length > slice.length, endCursor: edges.at(-1)?.cursor ?? null } };
}

async function main(): Promise<void> {
  const server = new ApolloServer({
    typeDefs: fs.readFileSync(SCHEMA_FILE, 'utf8'),
    resolvers: {
      Query: {
        clusters: (_: unknown, args: { first?: number }) => page(clusters, args.first),
        users: (_: unknown, args: { first?: number }) => page(users, args.first),
      },
      Mutation: {
        enableUser: (_: unknown, args: { id: number }) => {
          const user = users.find((u) => u.id === args.id)!;
          user.updatedAt = new Date();
          return user;
        },
      },
    },
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  const ready: Ready = { url, token: 'none', userId: USERS };
  process.send!({ ready });
  process.on('message', (msg: { stop?: boolean }) => {
    if (msg.stop) void server.stop().then(() => process.exit(0));
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
