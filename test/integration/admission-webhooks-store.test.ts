import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  getAdmissionWebhookConfiguration,
  updateAdmissionWebhookConfiguration,
} from '../../src/domain/admission-webhooks';
import type { Principal } from '../../src/domain/context';
import { ConflictError } from '../../src/errors';
import { authenticate } from '../../src/domain/auth';
import { startTestApp, type TestApp } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { codes, gql, TEST_CA_PEM } from './graphql-fixtures';
import { b64 } from './admission-webhooks-fixtures';

const FIELDS = `name namespace operation kind version createdAt updatedAt
  labels { key value } annotations { key value }
  webhooks { name failurePolicy timeoutSeconds clientConfig { url caBundle service { name namespace port path } } namespaceSelector { operator values } }`;
const CREATE = `mutation($input: CreateAdmissionWebhookConfigurationInput!) { createAdmissionWebhookConfiguration(input: $input) { ${FIELDS} } }`;
const UPDATE = `mutation($name: String!, $v: Int!, $input: UpdateAdmissionWebhookConfigurationInput!) {
  updateAdmissionWebhookConfiguration(name: $name, expectedVersion: $v, input: $input) { ${FIELDS} } }`;
const GET = `query($name: String!) { admissionWebhookConfiguration(name: $name) { ${FIELDS} } }`;
const LIST = `{ admissionWebhookConfigurations { name operation kind } }`;
const DELETE = `mutation($name: String!) { deleteAdmissionWebhookConfiguration(name: $name) { name version } }`;

const CA = b64(TEST_CA_PEM);

function hook(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, clientConfig: { url: `https://${name}.example.com/mutate`, caBundle: CA }, ...extra };
}

for (const dialect of DIALECTS) {
  describe(`admission webhook configurations (store + GraphQL) on ${dialect}`, () => {
    let t: TestApp;
    let aliceToken: string;
    let admin: Principal;

    before(async () => {
      t = await startTestApp(dialect);
      const alice = await gql(t.url, t.adminToken, 'mutation { createUser(input: { name: "alice" }) { id } }');
      aliceToken = (await gql(t.url, t.adminToken, 'mutation($id: Int) { issueToken(input: { userId: $id }) { secret } }', { id: alice.data.createUser.id })).data.issueToken
        .secret;
      admin = await authenticate(t.app.runtime.context().em, t.adminToken, new Date());
    });
    after(async () => t?.stop());

    it('creates, reads, lists, updates and deletes a configuration with its defaults', async () => {
      const created = await gql(t.url, t.adminToken, CREATE, {
        input: {
          name: 'sidecar',
          operation: 'CREATE',
          kind: 'APPLICATION',
          labels: [{ key: 'team', value: 'infra' }],
          webhooks: [
            hook('inject'),
            {
              name: 'audit',
              failurePolicy: 'IGNORE',
              timeoutSeconds: 3,
              clientConfig: { service: { name: 'audit', namespace: 'bcs-system' }, caBundle: CA },
              namespaceSelector: { operator: 'NOT_IN', values: ['kube-system'] },
            },
          ],
        },
      });
      assert.deepEqual(created.errors, []);
      const c = created.data.createAdmissionWebhookConfiguration;
      assert.equal(c.namespace, 'bkbcs', "the original's namespace is the default");
      assert.deepEqual([c.operation, c.kind, c.version], ['CREATE', 'APPLICATION', 1]);
      assert.deepEqual(c.labels, [{ key: 'team', value: 'infra' }]);
      assert.deepEqual(c.annotations, []);
      assert.deepEqual(
        c.webhooks.map((w: any) => [w.name, w.failurePolicy, w.timeoutSeconds]),
        [
          ['inject', 'FAIL', 10],
          ['audit', 'IGNORE', 3],
        ],
      );
      assert.deepEqual(c.webhooks[1].clientConfig.service, { name: 'audit', namespace: 'bcs-system', port: 443, path: '/' });
      assert.equal(c.webhooks[0].clientConfig.url, 'https://inject.example.com/mutate');
      assert.equal(c.webhooks[0].clientConfig.caBundle, CA);
      assert.deepEqual(c.webhooks[1].namespaceSelector, { operator: 'NOT_IN', values: ['kube-system'] });

      const read = await gql(t.url, t.adminToken, GET, { name: 'sidecar' });
      assert.deepEqual(read.data.admissionWebhookConfiguration, c);

      const second = await gql(t.url, t.adminToken, CREATE, { input: { name: 'deploy-update', namespace: 'mesos', operation: 'UPDATE', kind: 'DEPLOYMENT', webhooks: [hook('x')] } });
      assert.deepEqual(second.errors, []);
      assert.equal(second.data.createAdmissionWebhookConfiguration.namespace, 'mesos');
      const list = await gql(t.url, t.adminToken, LIST);
      assert.deepEqual(list.data.admissionWebhookConfigurations, [
        { name: 'deploy-update', operation: 'UPDATE', kind: 'DEPLOYMENT' },
        { name: 'sidecar', operation: 'CREATE', kind: 'APPLICATION' },
      ]);

      const updated = await gql(t.url, t.adminToken, UPDATE, { name: 'sidecar', v: 1, input: { webhooks: [hook('only')], annotations: [{ key: 'a', value: 'b' }] } });
      assert.deepEqual(updated.errors, []);
      const u = updated.data.updateAdmissionWebhookConfiguration;
      assert.equal(u.version, 2);
      assert.deepEqual(u.webhooks.map((w: any) => w.name), ['only']);
      assert.deepEqual(u.labels, [{ key: 'team', value: 'infra' }], 'fields not given keep their value');
      assert.deepEqual(u.annotations, [{ key: 'a', value: 'b' }]);

      const stale = await gql(t.url, t.adminToken, UPDATE, { name: 'sidecar', v: 1, input: { labels: [] } });
      assert.deepEqual(codes(stale), ['CONFLICT']);

      const deleted = await gql(t.url, t.adminToken, DELETE, { name: 'deploy-update' });
      assert.deepEqual(deleted.data.deleteAdmissionWebhookConfiguration, { name: 'deploy-update', version: 1 });
      assert.deepEqual(codes(await gql(t.url, t.adminToken, GET, { name: 'deploy-update' })), ['NOT_FOUND']);
      assert.deepEqual(codes(await gql(t.url, t.adminToken, DELETE, { name: 'deploy-update' })), ['NOT_FOUND']);
    });

    it('allows one configuration per operation and kind, and unique names (CONFLICT)', async () => {
      const a = await gql(t.url, t.adminToken, CREATE, { input: { name: 'dep-create', operation: 'CREATE', kind: 'DEPLOYMENT', webhooks: [hook('a')] } });
      assert.deepEqual(a.errors, []);
      const sameRef = await gql(t.url, t.adminToken, CREATE, { input: { name: 'dep-create-2', operation: 'CREATE', kind: 'DEPLOYMENT', webhooks: [hook('a')] } });
      assert.deepEqual(codes(sameRef), ['CONFLICT']);
      assert.match(sameRef.errors[0]!.message, /Create deployment/);
      const sameName = await gql(t.url, t.adminToken, CREATE, { input: { name: 'dep-create', operation: 'UPDATE', kind: 'APPLICATION', webhooks: [hook('a')] } });
      assert.deepEqual(codes(sameName), ['CONFLICT']);
      // Moving another configuration onto a taken (operation, kind) is a conflict as well.
      const other = await gql(t.url, t.adminToken, CREATE, { input: { name: 'dep-update', operation: 'UPDATE', kind: 'DEPLOYMENT', webhooks: [hook('a')] } });
      assert.deepEqual(other.errors, []);
      assert.deepEqual(codes(await gql(t.url, t.adminToken, UPDATE, { name: 'dep-update', v: 1, input: { operation: 'CREATE' } })), ['CONFLICT']);
      // Concurrent creates for the same (operation, kind): the unique index decides, exactly one wins.
      const racers = await Promise.all(
        ['race-1', 'race-2', 'race-3'].map((name) => gql(t.url, t.adminToken, CREATE, { input: { name, operation: 'UPDATE', kind: 'APPLICATION', webhooks: [hook('a')] } })),
      );
      assert.deepEqual(racers.map((r) => codes(r)[0] ?? 'OK').sort(), ['CONFLICT', 'CONFLICT', 'OK']);
    });

    it('rejects invalid input with BAD_USER_INPUT naming the field', async () => {
      const bad = async (webhooks: unknown[], expectField: RegExp, name = 'bad') => {
        const r = await gql(t.url, t.adminToken, CREATE, { input: { name, operation: 'UPDATE', kind: 'DEPLOYMENT', webhooks } });
        assert.deepEqual(codes(r), ['BAD_USER_INPUT'], JSON.stringify(r.errors));
        assert.match(String(r.errors[0]!.extensions!.field), expectField);
        return r.errors[0]!;
      };
      const notPem = await bad([{ name: 'a', clientConfig: { url: 'https://a.example.com/', caBundle: b64('hello, not a certificate') } }], /^input\.webhooks\[0\]\.clientConfig\.caBundle$/);
      assert.match(notPem.message, /caBundle/);
      const brokenPem = TEST_CA_PEM.replace(/MIIB[A-Za-z0-9+/]{20}/, 'MIIBAAAAAAAAAAAAAAAAAAAA');
      await bad([{ name: 'a', clientConfig: { url: 'https://a.example.com/', caBundle: b64(brokenPem) } }], /caBundle$/);
      await bad([{ name: 'a', clientConfig: { url: 'https://a.example.com/', caBundle: '%%%not base64%%%' } }], /caBundle$/);
      await bad([{ name: 'a', clientConfig: { url: 'https://a.example.com/', caBundle: '' } }], /caBundle$/);
      await bad([{ name: 'a', clientConfig: { url: 'http://a.example.com/', caBundle: CA } }], /clientConfig\.url$/);
      await bad([{ name: 'a', clientConfig: { caBundle: CA } }], /clientConfig\.url$/);
      await bad([{ name: 'a', clientConfig: { url: 'https://a.example.com/', service: { name: 's', namespace: 'n' }, caBundle: CA } }], /clientConfig\.url$/);
      await bad([{ name: 'a', clientConfig: { service: { name: 'Bad_Name', namespace: 'n' }, caBundle: CA } }], /service\.name$/);
      await bad([{ name: '', clientConfig: { url: 'https://a.example.com/', caBundle: CA } }], /webhooks\[0\]\.name$/);
      await bad([hook('dup'), hook('dup')], /webhooks\[1\]\.name$/);
      await bad([hook('a', { timeoutSeconds: 31 })], /timeoutSeconds$/);
      await bad([hook('a', { timeoutSeconds: 0 })], /timeoutSeconds$/);
      await bad([], /^input\.webhooks$/);
      await bad([hook('a')], /^input\.name$/, '');
      assert.deepEqual(codes(await gql(t.url, t.adminToken, CREATE, { input: { name: 'x', operation: 'DELETE', kind: 'DEPLOYMENT', webhooks: [hook('a')] } })), ['BAD_USER_INPUT']);
      assert.deepEqual(codes(await gql(t.url, t.adminToken, GET, { name: 'bad' })), ['NOT_FOUND'], 'nothing invalid was stored');
    });

    it('is for super users only, reads included (FORBIDDEN)', async () => {
      assert.deepEqual(codes(await gql(t.url, aliceToken, LIST)), ['FORBIDDEN']);
      assert.deepEqual(codes(await gql(t.url, aliceToken, GET, { name: 'sidecar' })), ['FORBIDDEN']);
      assert.deepEqual(codes(await gql(t.url, aliceToken, CREATE, { input: { name: 'mine', operation: 'UPDATE', kind: 'DEPLOYMENT', webhooks: [hook('a')] } })), ['FORBIDDEN']);
      assert.deepEqual(codes(await gql(t.url, aliceToken, UPDATE, { name: 'sidecar', v: 2, input: { labels: [] } })), ['FORBIDDEN']);
      assert.deepEqual(codes(await gql(t.url, aliceToken, DELETE, { name: 'sidecar' })), ['FORBIDDEN']);
      assert.equal((await gql(t.url, t.adminToken, GET, { name: 'sidecar' })).data.admissionWebhookConfiguration.version, 2, 'unchanged');
    });

    it('never loses a concurrent update: same expected version → exactly one CONFLICT', async () => {
      const name = 'sidecar';
      const v = (await gql(t.url, t.adminToken, GET, { name })).data.admissionWebhookConfiguration.version;
      const [x, y] = await Promise.all([
        gql(t.url, t.adminToken, UPDATE, { name, v, input: { labels: [{ key: 'writer', value: 'x' }] } }),
        gql(t.url, t.adminToken, UPDATE, { name, v, input: { annotations: [{ key: 'writer', value: 'y' }] } }),
      ]);
      assert.deepEqual([codes(x)[0] ?? 'OK', codes(y)[0] ?? 'OK'].sort(), ['CONFLICT', 'OK']);
      const loser = codes(x).length ? 'x' : 'y';
      // The loser reads again and retries: both changes end up stored.
      const now = (await gql(t.url, t.adminToken, GET, { name })).data.admissionWebhookConfiguration;
      assert.equal(now.version, v + 1);
      const retry =
        loser === 'x'
          ? await gql(t.url, t.adminToken, UPDATE, { name, v: now.version, input: { labels: [{ key: 'writer', value: 'x' }] } })
          : await gql(t.url, t.adminToken, UPDATE, { name, v: now.version, input: { annotations: [{ key: 'writer', value: 'y' }] } });
      assert.deepEqual(retry.errors, []);
      const final = (await gql(t.url, t.adminToken, GET, { name })).data.admissionWebhookConfiguration;
      assert.deepEqual(final.labels, [{ key: 'writer', value: 'x' }]);
      assert.deepEqual(final.annotations, [{ key: 'writer', value: 'y' }]);
      assert.equal(final.version, v + 2);
    });

    it('guards the UPDATE itself by version, even when the caller read before another writer committed', async () => {
      // The winner of the create race above holds (Update, application).
      const target = (await gql(t.url, t.adminToken, LIST)).data.admissionWebhookConfigurations.find((c: any) => c.operation === 'UPDATE' && c.kind === 'APPLICATION').name;
      // Writer A reads the row into its unit of work...
      const a = t.app.runtime.context();
      const seenByA = await getAdmissionWebhookConfiguration(a, admin, target);
      // ...writer B commits a change...
      await updateAdmissionWebhookConfiguration(t.app.runtime.context(), admin, target, { labels: { by: 'b' } }, seenByA.version);
      // ...and A's write, based on the old row and with no expected version, must not overwrite it.
      await assert.rejects(updateAdmissionWebhookConfiguration(a, admin, target, { annotations: { by: 'a' } }), (err: unknown) => err instanceof ConflictError);
      const stored = await getAdmissionWebhookConfiguration(t.app.runtime.context(), admin, target);
      assert.deepEqual(stored.labels, { by: 'b' });
      assert.equal(stored.annotations, null);
      assert.equal(stored.version, seenByA.version + 1);
    });
  });
}
