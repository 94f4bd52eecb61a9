/**
 * bench:graphql's gateway: the whole app (test configuration, loopback, fresh database of the dialect
 * in argv[2]), seeded with CLUSTERS clusters (register token and credential report each) and USERS
 * users with a token each. Started with fork(); says `Ready` over IPC, then answers `footprint`
 * requests: the SQL statements and entities one request of an operation costs.
 */
import type { EventArgs, EventSubscriber } from '@mikro-orm/core';
import { createCluster } from '../../src/domain/clusters';
import { reportCredentials } from '../../src/domain/credentials';
import { createRegisterToken } from '../../src/domain/register-tokens';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { authenticate } from '../../src/domain/auth';
import { startTestApp } from '../helpers/app';
import type { Dialect } from '../helpers/db';
import { TEST_CA_PEM } from '../integration/graphql-fixtures';
import { profileIfAsked } from './graphql-profile';
import { CLUSTERS, USERS, type Footprint, type Ready } from './graphql-queries';

async function main(): Promise<void> {
  const dialect = process.argv[2] as Dialect;
  const t = await startTestApp(dialect);
  const ctx = t.app.runtime.context();
  const admin = await authenticate(ctx.em, t.adminToken, new Date());
  let userId = 0;
  for (let i = 0; i < USERS; i += 1) {
    const user = await createUser(ctx, admin, { name: `bench-user-${i}`, isSuperUser: i % 10 === 0, groups: ['bench'] });
    await issueToken(ctx, admin, user, { name: 'bench' });
    userId = user.id;
  }
  for (let i = 0; i < CLUSTERS; i += 1) {
    const id = `BCS-K8S-${String(i).padStart(5, '0')}`;
    await createCluster(ctx, admin, { id, projectId: `project-${i % 7}` });
    const { secret } = await createRegisterToken(ctx, admin, id, 86400 * 30);
    await reportCredentials(ctx, id, { registerToken: secret, serverAddresses: `https://10.0.${i >> 8}.${i & 255}:6443`, caCertData: TEST_CA_PEM, userToken: 'sa-token', reporterAddress: '10.1.0.9' });
  }
  // The test app logs every statement for the count below; a served gateway does not (no `debug`), and
  // formatting each statement with its 200 parameters would load the gateway with work it never does.
  const ormLogger = t.app.runtime.orm.config.getLogger();
  ormLogger.setDebugMode(false);
  const writeProfile = await profileIfAsked(`gateway-${dialect}`);
  const ready: Ready = { url: `${t.url}/graphql`, token: t.adminToken, userId };
  process.send!({ ready });

  let entities = 0;
  let counting = false;
  // Registered only once the load is over (footprints are measured after it), so it costs the load nothing.
  const counter: EventSubscriber = { onInit: (_args: EventArgs<unknown>) => void (counting && (entities += 1)) };
  process.on('message', (msg: { footprint?: string; stop?: boolean }) => {
    if (msg.stop) {
      void writeProfile()
        .then(() => t.stop())
        .then(() => process.exit(0));
      return;
    }
    if (!msg.footprint) return;
    const query = msg.footprint;
    t.app.runtime.orm.em.getEventManager().registerSubscriber(counter);
    const post = (): Promise<Response> =>
      fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` }, body: JSON.stringify({ query }) });
    void (async () => {
      await (await post()).text();
      entities = 0;
      counting = true;
      ormLogger.setDebugMode(['query']);
      const statements = await t.queries.count(async () => (await post()).text());
      ormLogger.setDebugMode(false);
      counting = false;
      const footprint: Footprint = { statements, entities };
      process.send!({ footprint });
    })();
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
