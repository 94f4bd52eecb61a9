import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { AdmissionWebhookRunner } from '../../proxy/webhooks/runner';
import {
  createAdmissionWebhookConfiguration,
  listAdmissionWebhookConfigurations,
  updateAdmissionWebhookConfiguration,
  type WebhookInput,
} from '../../src/domain/admission-webhooks';
import { ChangeBus } from '../../src/domain/changes';
import type { Principal } from '../../src/domain/context';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { generateCerts, type FakeKubeCerts } from '../helpers/fake-kube/certs';
import { application, b64, principal, startWebhook, type FakeWebhook } from './admission-webhooks-fixtures';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('admission webhook runner against fake webhook servers', () => {
  let t: TestRuntime;
  let admin: Principal;
  let certs: FakeKubeCerts;
  let otherCa: FakeKubeCerts;
  let registry: Registry;
  let runner: AdmissionWebhookRunner;
  const servers: Record<string, FakeWebhook> = {};

  /** Makes `webhooks` the one configuration for (operation, kind), through the domain (as GraphQL would). */
  async function configure(webhooks: WebhookInput[], operation = 'Create', kind = 'application'): Promise<void> {
    const name = `${operation.toLowerCase()}-${kind}`;
    const existing = (await listAdmissionWebhookConfigurations(t.rt.context(), admin)).find((c) => c.name === name);
    if (existing) await updateAdmissionWebhookConfiguration(t.rt.context(), admin, name, { webhooks }, existing.version);
    else await createAdmissionWebhookConfiguration(t.rt.context(), admin, { name, operation, kind, webhooks });
  }

  const hook = (server: string, extra: Partial<WebhookInput> = {}, ca = certs.caPem): WebhookInput => ({
    name: server,
    clientConfig: { url: servers[server]!.url, caBundle: b64(ca) },
    ...extra,
  });

  before(async () => {
    certs = generateCerts();
    otherCa = generateCerts();
    t = await startTestRuntime('sqlite');
    admin = await principal(t.rt, 'hooks-admin', true);
    registry = new Registry();
    runner = new AdmissionWebhookRunner(t.rt, registry);
    // Injects a logging sidecar next to the application's containers.
    servers.inject = await startWebhook(certs, (doc) => {
      doc.spec.template.spec.containers.push({ name: 'log-agent', image: 'bcs/log-agent:1.0' });
      return { body: JSON.stringify(doc) };
    });
    // Labels whatever it gets (so a test can see what the previous webhook produced).
    servers.label = await startWebhook(certs, (doc) => {
      doc.metadata.labels = { ...doc.metadata.labels, admitted: 'true' };
      return { body: JSON.stringify(doc) };
    });
    servers.slow = await startWebhook(certs, () => ({ delayMs: 3000 }));
    servers.garbage = await startWebhook(certs, () => ({ body: '{"kind": "application", oops' }));
    servers.broken = await startWebhook(certs, () => ({ status: 500, body: 'internal trouble' }));
    servers.wrongKind = await startWebhook(certs, (doc) => ({ body: JSON.stringify({ ...doc, kind: 'deployment' }) }));
  });
  after(async () => {
    runner?.close();
    await Promise.all(Object.values(servers).map((s) => s.close()));
    await t?.stop();
  });

  const reset = () => Object.values(servers).forEach((s) => (s.received.length = 0));

  it('applies two chained webhooks in order: a sidecar injection, then a label on the injected body', async () => {
    await configure([hook('inject'), hook('label')]);
    reset();
    const input = application('prod');
    const out = await runner.admit('Create', json(input));
    assert.equal(out.allowed, true);
    const result = JSON.parse((out as { body: Buffer }).body.toString());
    assert.deepEqual(
      result.spec.template.spec.containers.map((c: any) => c.name),
      ['main', 'log-agent'],
    );
    assert.deepEqual(result.metadata.labels, { app: 'web', admitted: 'true' });
    assert.deepEqual(servers.inject!.received, [input], 'the first webhook gets the body as sent');
    assert.deepEqual(
      servers.label!.received[0].spec.template.spec.containers.map((c: any) => c.name),
      ['main', 'log-agent'],
      'the second webhook gets the first one’s answer',
    );
    assert.deepEqual(servers.inject!.contentTypes, ['application/json']);
    // The rest of the resource survives untouched.
    assert.deepEqual(result.restartPolicy, input.restartPolicy);
  });

  const failures: [string, Partial<WebhookInput>, RegExp, string?][] = [
    ['slow', { timeoutSeconds: 1 }, /within 1s|deadline/],
    ['garbage', {}, /not a JSON object/],
    ['broken', {}, /HTTP 500: internal trouble/],
    ['wrongKind', {}, /kind "deployment", expected "application"/],
    ['inject', {}, /certificate/, 'wrong CA'],
  ];

  for (const [server, extra, reason, label] of failures) {
    const what = label ?? server;
    it(`${what}: Fail rejects with the webhook's name and reason`, async () => {
      const ca = label === 'wrong CA' ? otherCa.caPem : certs.caPem;
      await configure([hook(server, { ...extra, failurePolicy: 'Fail' }, ca), hook('label')]);
      reset();
      const out = await runner.admit('Create', json(application()));
      assert.equal(out.allowed, false);
      const denied = out as { webhook: string; reason: string };
      assert.equal(denied.webhook, server);
      assert.match(denied.reason, reason);
      assert.ok(!denied.reason.includes(servers[server]!.url), 'the reason does not reveal the webhook address');
      assert.equal(servers.label!.received.length, 0, 'nothing after a failed Fail webhook runs');
    });

    it(`${what}: Ignore continues with the body unchanged`, async () => {
      const ca = label === 'wrong CA' ? otherCa.caPem : certs.caPem;
      await configure([hook(server, { ...extra, failurePolicy: 'Ignore' }, ca), hook('label')]);
      reset();
      const input = application();
      const out = await runner.admit('Create', json(input));
      assert.equal(out.allowed, true);
      assert.deepEqual(servers.label!.received, [input], 'the next webhook saw the body as it was before the failed one');
      assert.deepEqual(JSON.parse((out as { body: Buffer }).body.toString()).metadata.labels, { app: 'web', admitted: 'true' });
    });
  }

  it('never skips TLS verification: the wrong CA fails even though the server answers fine', async () => {
    await configure([hook('label', { failurePolicy: 'Fail' }, otherCa.caPem)]);
    reset();
    const out = await runner.admit('Create', json(application()));
    assert.equal(out.allowed, false);
    assert.equal(servers.label!.received.length, 0, 'no request reached the server');
  });

  it('applies namespace selectors to metadata.namespace (In / NotIn)', async () => {
    const labelled = async (ns: string) => {
      const body = json(application(ns));
      const out = (await runner.admit('Create', body)) as { allowed: true; body: Buffer };
      assert.equal(out.allowed, true);
      return JSON.parse(out.body.toString()).metadata.labels.admitted === 'true';
    };
    await configure([hook('label', { namespaceSelector: { operator: 'In', values: ['prod', 'staging'] } })]);
    assert.deepEqual([await labelled('prod'), await labelled('staging'), await labelled('dev')], [true, true, false]);
    await configure([hook('label', { namespaceSelector: { operator: 'NotIn', values: ['prod'] } })]);
    assert.deepEqual([await labelled('prod'), await labelled('dev')], [false, true]);
    // A skipped webhook leaves the very bytes alone.
    const body = json(application('prod'));
    assert.equal(((await runner.admit('Create', body)) as { body: Buffer }).body, body);
  });

  it('leaves other kinds, other operations and non-JSON bodies untouched, without calling anyone', async () => {
    await configure([hook('inject', { failurePolicy: 'Fail' })]);
    reset();
    const bodies = [
      json({ apiVersion: 'v4', kind: 'service', metadata: { name: 's', namespace: 'prod' }, spec: {} }),
      json({ apiVersion: 'v4', kind: 'deployment', metadata: { name: 'd', namespace: 'prod' }, spec: { template: { spec: { containers: [] } } } }),
      json({ apiVersion: 'v4', kind: 'Application', metadata: { name: 'a', namespace: 'prod' } }),
      json([application()]),
      Buffer.from('kind: application\n'),
      Buffer.alloc(0),
    ];
    for (const body of bodies) {
      const out = await runner.admit('Create', body);
      assert.deepEqual(out, { allowed: true, body }, body.toString());
    }
    const update = json(application());
    assert.deepEqual(await runner.admit('Update', update), { allowed: true, body: update }, 'only Create is configured');
    assert.equal(servers.inject!.received.length, 0);
  });

  it('counts calls, failures and latency per webhook', async () => {
    const calls = await registry.getSingleMetricAsString('bcs_api_admission_webhook_calls_total');
    assert.match(calls, /bcs_api_admission_webhook_calls_total\{configuration="create-application",webhook="inject"\} [1-9]/);
    const failed = await registry.getSingleMetricAsString('bcs_api_admission_webhook_failures_total');
    assert.match(failed, /webhook="slow",reason="timeout"\} 2/);
    assert.match(failed, /webhook="garbage",reason="invalid_response"\} 2/);
    assert.match(failed, /webhook="inject",reason="transport"\} [1-9]/);
    const latency = await registry.getSingleMetricAsString('bcs_api_admission_webhook_duration_seconds');
    assert.match(latency, /bcs_api_admission_webhook_duration_seconds_count\{configuration="create-application",webhook="label"\} [1-9]/);
  });

  it('sees changes from this process at once and changes from other processes within the refresh interval', async () => {
    let clock = 0;
    const cached = new AdmissionWebhookRunner(t.rt, registry, { refreshMs: 1000, now: () => clock });
    try {
      await configure([hook('label')]);
      const labelled = async () => JSON.parse(((await cached.admit('Create', json(application()))) as { body: Buffer }).body.toString()).metadata.labels.admitted === 'true';
      assert.equal(await labelled(), true);
      // Another process (no shared ChangeBus) removes the webhook's effect...
      const existing = (await listAdmissionWebhookConfigurations(t.rt.context(), admin)).find((c) => c.name === 'create-application')!;
      const elsewhere = { ...t.rt.context(), changes: new ChangeBus() };
      await updateAdmissionWebhookConfiguration(elsewhere, admin, 'create-application', { webhooks: [hook('label', { namespaceSelector: { operator: 'In', values: ['none'] } })] }, existing.version);
      clock += 500;
      assert.equal(await labelled(), true, 'still cached');
      clock += 600;
      assert.equal(await labelled(), false, 'reloaded after the interval');
      // ...while a change in this process applies to the very next request.
      await configure([hook('label')]);
      assert.equal(await labelled(), true);
    } finally {
      cached.close();
    }
  });
});
