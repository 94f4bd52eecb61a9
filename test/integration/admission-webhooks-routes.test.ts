import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../../src/domain/context';
import { handleAdmissionWebhookRoute } from '../../proxy/webhooks/routes';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { TEST_CA_PEM } from './graphql-fixtures';
import { b64, principal } from './admission-webhooks-fixtures';

const CA = b64(TEST_CA_PEM);

/** The original driver's JSON, flat clientConfig and all. */
function resource(name: string, extra: { operation?: string; kind?: string; clientConfig?: Record<string, unknown>; metadata?: Record<string, unknown> } = {}) {
  return {
    apiVersion: 'v4',
    kind: 'admissionwebhook',
    metadata: { name, labels: { owner: 'ops' }, ...extra.metadata },
    resourcesRef: { operation: extra.operation ?? 'Create', kind: extra.kind ?? 'application' },
    admissionWebhooks: [
      { name: 'inject', failurePolicy: 'Fail', clientConfig: extra.clientConfig ?? { url: 'https://inject.example.com/mutate', caBundle: CA } },
      {
        name: 'audit',
        failurePolicy: 'Ignore',
        clientConfig: { name: 'audit', namespace: 'bcs-system', port: 8443, path: '/audit', caBundle: CA },
        namespaceSelector: { operator: 'NotIn', values: ['kube-system'] },
      },
    ],
  };
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

for (const dialect of DIALECTS) {
  describe(`Mesos driver admission webhook routes on ${dialect}`, () => {
    let t: TestRuntime;
    let admin: Principal;
    let bob: Principal;
    const call = (method: string, uri: string, body: unknown = undefined, who?: Principal) =>
      handleAdmissionWebhookRoute(t.rt, method, uri, body === undefined ? Buffer.alloc(0) : json(body), who ?? admin);

    before(async () => {
      t = await startTestRuntime(dialect);
      admin = await principal(t.rt, 'ops-admin', true);
      bob = await principal(t.rt, 'bob', false);
    });
    after(async () => t?.stop());

    it('leaves every other driver path to the passthrough', async () => {
      for (const uri of ['namespaces/ns/applications', 'namespaces/ns/admissionwebhook/a/b', 'admissionwebhooks/x', 'cluster/resources', 'namespaces//admissionwebhook', '']) {
        assert.equal(await call('GET', uri), undefined, uri);
      }
      const wrongMethod = await call('PATCH', 'namespaces/ns/admissionwebhook');
      assert.equal(wrongMethod?.status, 405);
      assert.deepEqual((wrongMethod?.body as any).result, false);
    });

    it('creates, reads, lists, replaces and deletes in the BCS envelope', async () => {
      const created = await call('POST', 'namespaces/ns1/admissionwebhook', resource('sidecar'));
      assert.equal(created?.status, 200, JSON.stringify(created?.body));
      const body = created!.body as any;
      assert.deepEqual([body.result, body.code, body.message], [true, 0, 'success']);
      assert.equal(body.data.kind, 'admissionwebhook');
      assert.deepEqual(body.data.metadata.name, 'sidecar');
      assert.equal(body.data.metadata.namespace, 'ns1', 'the URL namespace when metadata has none');
      assert.equal(body.data.metadata.resourceVersion, '1');
      assert.deepEqual(body.data.metadata.labels, { owner: 'ops' });
      assert.deepEqual(body.data.resourcesRef, { operation: 'Create', kind: 'application' });
      assert.deepEqual(body.data.admissionWebhooks, [
        { name: 'inject', failurePolicy: 'Fail', clientConfig: { url: 'https://inject.example.com/mutate', caBundle: CA }, timeoutSeconds: 10 },
        {
          name: 'audit',
          failurePolicy: 'Ignore',
          clientConfig: { caBundle: CA, name: 'audit', namespace: 'bcs-system', port: 8443, path: '/audit' },
          namespaceSelector: { operator: 'NotIn', values: ['kube-system'] },
          timeoutSeconds: 10,
        },
      ]);

      const got = await call('GET', 'namespaces/anything/admissionwebhook/sidecar');
      assert.equal(got?.status, 200);
      assert.deepEqual((got!.body as any).data, body.data);

      const defaultNs = await call('POST', 'namespaces/bkbcs/admissionwebhook', resource('deploys', { kind: 'deployment', metadata: { namespace: '' } }));
      assert.equal((defaultNs!.body as any).data.metadata.namespace, 'bkbcs');

      const list = await call('GET', 'admissionwebhooks');
      assert.deepEqual(
        (list!.body as any).data.map((r: any) => r.metadata.name),
        ['deploys', 'sidecar'],
      );

      // PUT replaces the whole resource; a stale resourceVersion is refused.
      const replaced = await call('PUT', 'namespaces/ns1/admissionwebhook', { ...resource('sidecar', { metadata: { resourceVersion: '1', labels: {} } }), admissionWebhooks: [resource('x').admissionWebhooks[0]] });
      assert.equal(replaced?.status, 200, JSON.stringify(replaced?.body));
      assert.equal((replaced!.body as any).data.metadata.resourceVersion, '2');
      assert.deepEqual((replaced!.body as any).data.metadata.labels, {});
      assert.deepEqual((replaced!.body as any).data.admissionWebhooks.map((w: any) => w.name), ['inject']);
      const stale = await call('PUT', 'namespaces/ns1/admissionwebhook', resource('sidecar', { metadata: { resourceVersion: '1' } }));
      assert.equal(stale?.status, 409);
      assert.deepEqual([(stale!.body as any).result, (stale!.body as any).code], [false, 1405201]);
      const missing = await call('PUT', 'namespaces/ns1/admissionwebhook', resource('nope', { operation: 'Update' }));
      assert.equal(missing?.status, 404);
      assert.equal((missing!.body as any).code, 1405202);

      const deleted = await call('DELETE', 'namespaces/ns1/admissionwebhook/deploys');
      assert.deepEqual(deleted?.body, { result: true, code: 0, message: 'success', data: null });
      const gone = await call('GET', 'namespaces/ns1/admissionwebhook/deploys');
      assert.equal(gone?.status, 404);
      assert.deepEqual(gone?.body, { result: false, code: 1405202, message: 'admission webhook deploys not found', data: null });
    });

    it("answers a duplicate create with the original's 'admission already exist'", async () => {
      const again = await call('POST', 'namespaces/ns1/admissionwebhook', resource('sidecar', { operation: 'Update' }));
      assert.equal(again?.status, 409);
      assert.deepEqual(again?.body, { result: false, code: 1405201, message: 'admission already exist', data: null });
      const sameRef = await call('POST', 'namespaces/ns1/admissionwebhook', resource('sidecar-2'));
      assert.equal(sameRef?.status, 409);
      assert.equal((sameRef!.body as any).code, 1405201);
      assert.match((sameRef!.body as any).message, /only one per operation and kind/);
    });

    it('rejects invalid resources with 400 code 1405061 naming the field', async () => {
      const expectBad = async (body: unknown, field: string | RegExp) => {
        const r = await call('POST', 'namespaces/ns1/admissionwebhook', body);
        assert.equal(r?.status, 400, JSON.stringify(r?.body));
        const b = r!.body as any;
        assert.deepEqual([b.result, b.code], [false, 1405061]);
        if (typeof field === 'string') assert.equal(b.data.field, field);
        else assert.match(b.data.field, field);
        assert.match(b.message, typeof field === 'string' ? new RegExp(field.replace(/[[\].]/g, '\\$&')) : field);
      };
      await expectBad(resource('bad', { operation: 'Update', clientConfig: { url: 'https://a.example.com/', caBundle: b64('-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n') } }), 'admissionWebhooks[0].clientConfig.caBundle');
      await expectBad(resource('bad', { operation: 'Update', clientConfig: { url: 'http://a.example.com/', caBundle: CA } }), 'admissionWebhooks[0].clientConfig.url');
      await expectBad({ ...resource('bad'), kind: 'application' }, 'kind');
      await expectBad(resource('bad', { operation: 'Delete' }), 'resourcesRef.operation');
      await expectBad(resource('bad', { operation: 'Update', kind: 'service' }), 'resourcesRef.kind');
      await expectBad({ ...resource('bad', { operation: 'Update' }), admissionWebhooks: [] }, 'admissionWebhooks');
      const notJson = await handleAdmissionWebhookRoute(t.rt, 'POST', 'namespaces/ns1/admissionwebhook', Buffer.from('{nope'), admin);
      assert.deepEqual([notJson?.status, (notJson!.body as any).code], [400, 1405061]);
    });

    it('is for super users only', async () => {
      for (const [method, uri, body] of [
        ['GET', 'admissionwebhooks'],
        ['GET', 'namespaces/ns1/admissionwebhook/sidecar'],
        ['DELETE', 'namespaces/ns1/admissionwebhook/sidecar'],
        ['POST', 'namespaces/ns1/admissionwebhook', resource('bobs', { operation: 'Update' })],
        ['PUT', 'namespaces/ns1/admissionwebhook', resource('sidecar')],
      ] as [string, string, unknown][]) {
        const r = await call(method, uri, body, bob);
        assert.equal(r?.status, 403, `${method} ${uri}`);
        assert.deepEqual([(r!.body as any).result, (r!.body as any).code], [false, 1405058]);
      }
      assert.equal((await call('GET', 'namespaces/ns1/admissionwebhook/sidecar'))?.status, 200, 'still there');
    });
  });
}
