import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generateCerts } from '../helpers/fake-kube/certs';
import { startTestApp, type TestApp } from '../helpers/app';
import { FakeDriver, ZooKeeperServer, rawClient, waitFor } from '../helpers/zookeeper';
import { application, b64, startWebhook, type FakeWebhook } from './admission-webhooks-fixtures';
import { gql } from './graphql-fixtures';
import { authenticate } from '../../src/domain/auth';
import { listAdmissionWebhookConfigurations, updateAdmissionWebhookConfiguration } from '../../src/domain/admission-webhooks';
import { withRuntime } from '../../src/cli/runtime';

const CLUSTER = 'BCS-MESOS-10001';

/** A Mesos driver: records what reaches it. */
async function startDriver(): Promise<{ server: http.Server; port: number; received: { url: string; body: unknown }[] }> {
  const received: { url: string; body: unknown }[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      received.push({ url: req.url!, body: raw ? JSON.parse(raw) : undefined });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ result: true, code: 0, message: 'success', data: null }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, received };
}

describe('Mesos passthrough end to end: ZooKeeper discovery, chained admission webhooks, a fake driver', () => {
  let zk: ZooKeeperServer;
  let gw: TestApp;
  let driver: Awaited<ReturnType<typeof startDriver>>;
  let registration: FakeDriver;
  const hooks: FakeWebhook[] = [];

  before(async () => {
    zk = await ZooKeeperServer.start();
    gw = await startTestApp('sqlite', { zookeeper: zk.connectString, zookeeperClient: { sessionTimeoutSeconds: 4 } });
    driver = await startDriver();
    registration = await FakeDriver.register(zk.connectString, { cluster: CLUSTER, ip: '127.0.0.1', port: driver.port });

    const certs = generateCerts();
    // First webhook injects a sidecar container; the second labels what it receives, proving the order.
    hooks.push(
      await startWebhook(certs, (doc) => {
        doc.spec.template.spec.containers.push({ name: 'log-agent', image: 'fluent-bit:3' });
        return { body: JSON.stringify(doc) };
      }),
      await startWebhook(certs, (doc) => {
        doc.metadata.labels['containers-seen'] = String(doc.spec.template.spec.containers.length);
        return { body: JSON.stringify(doc) };
      }),
    );
    const created = await gql(
      gw.url,
      gw.adminToken,
      'mutation($input: CreateAdmissionWebhookConfigurationInput!) { createAdmissionWebhookConfiguration(input: $input) { name } }',
      {
        input: {
          name: 'app-create',
          operation: 'CREATE',
          kind: 'APPLICATION',
          webhooks: [
            { name: 'inject-sidecar', failurePolicy: 'FAIL', clientConfig: { url: hooks[0]!.url, caBundle: b64(certs.caPem) } },
            { name: 'label', failurePolicy: 'FAIL', clientConfig: { url: hooks[1]!.url, caBundle: b64(certs.caPem) } },
          ],
        },
      },
    );
    assert.deepEqual(created.errors ?? [], []);
  });
  after(async () => {
    registration?.close();
    driver?.server.close();
    await Promise.all(hooks.map((h) => h.close()));
    await gw?.stop();
    await zk?.dispose();
  });

  it('creates an application through the gateway with both webhook changes applied', async () => {
    const post = () =>
      fetch(`${gw.url}/bcsapi/v4/scheduler/mesos/namespaces/prod/applications`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminToken}`, 'BCS-ClusterID': CLUSTER, 'content-type': 'application/json' },
        body: JSON.stringify(application('prod', 'web')),
      });
    // Discovery learns of the driver from its watch; retry until it has.
    const res = await waitFor('the driver to be discovered', async () => {
      const r = await post();
      return r.status === 503 ? undefined : r;
    });
    assert.equal(res.status, 200);
    assert.equal(driver.received.length, 1);
    const sent = driver.received[0]!;
    assert.equal(sent.url, '/mesosdriver/v4/namespaces/prod/applications');
    const body = sent.body as { metadata: { labels: Record<string, string> }; spec: { template: { spec: { containers: { name: string }[] } } } };
    assert.deepEqual(body.spec.template.spec.containers.map((c) => c.name), ['main', 'log-agent']);
    assert.equal(body.metadata.labels['containers-seen'], '2', 'the second webhook ran on the first one\'s output');
  });

  it('applies a webhook change made by another process (through the change feed)', async () => {
    // An admin command's process: it announces its commit through ZooKeeper as it ends.
    await withRuntime({ ...gw.app.runtime.config, bootstrapUsers: [] }, async (other) => {
      const ctx = other.context();
      const admin = await authenticate(ctx.em, gw.adminToken, new Date());
      const current = (await listAdmissionWebhookConfigurations(ctx, admin)).find((c) => c.name === 'app-create')!;
      // Keep only the sidecar webhook: the label must stop appearing.
      await updateAdmissionWebhookConfiguration(other.context(), admin, 'app-create', { webhooks: current.webhooks.slice(0, 1) }, current.version);
    });
    const started = Date.now();
    const labels = await waitFor('the change to reach the gateway', async () => {
      driver.received.length = 0;
      const r = await fetch(`${gw.url}/bcsapi/v4/scheduler/mesos/namespaces/prod/applications`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminToken}`, 'BCS-ClusterID': CLUSTER, 'content-type': 'application/json' },
        body: JSON.stringify(application('prod', 'web')),
      });
      assert.equal(r.status, 200);
      const l = (driver.received[0]!.body as { metadata: { labels: Record<string, string> } }).metadata.labels;
      return 'containers-seen' in l ? undefined : l;
    });
    assert.equal(labels['containers-seen'], undefined);
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms (the refresh safety net is minutes)`);
  });

  it('registers this gateway under /bcs/services/endpoints/apiserver and reports ZooKeeper in /readyz', async () => {
    const client = await rawClient(zk.connectString);
    try {
      const nodes = await waitFor('the gateway node', async () => {
        const children = await client.children('/bcs/services/endpoints/apiserver').catch(() => []);
        return children.length ? children : undefined;
      });
      assert.equal(nodes.length, 1);
      const info = JSON.parse((await client.get(`/bcs/services/endpoints/apiserver/${nodes[0]}`))!) as { port: number; scheme: string };
      assert.equal(info.port, Number(new URL(gw.url).port));
      assert.equal(info.scheme, 'http');
    } finally {
      client.close();
    }
    const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { checks: { zookeeper?: { state: string } } };
    assert.equal(ready.checks.zookeeper?.state, 'connected');
  });

  it('answers 1405051 once the cluster has no driver left', async () => {
    registration.close();
    const body = await waitFor('the driver to disappear', async () => {
      const r = await fetch(`${gw.url}/bcsapi/v4/scheduler/mesos/cluster/resources`, { headers: { authorization: `Bearer ${gw.adminToken}`, 'BCS-ClusterID': CLUSTER } });
      const b = (await r.json()) as { code: number };
      return b.code === 1405051 ? b : undefined;
    });
    assert.equal(body.code, 1405051);
  });
});
