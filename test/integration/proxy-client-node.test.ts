import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';

describe('a client-go style client (@kubernetes/client-node) through the gateway', () => {
  let env: GatewayEnv;
  let kc: KubeConfig;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('ns1', 'api-1');
    env.fake.grant({ user: 'plain.alice' }, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }], 'ns1');
    kc = new KubeConfig();
    kc.loadFromString(fs.readFileSync(await env.kubeconfigFor(env.alice.token, 'client-node'), 'utf8'));
  });
  after(async () => env?.stop());

  it('lists pods as the impersonated normal user', async () => {
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'ns1' });
    assert.deepEqual(pods.items.map((p) => p.metadata?.name), ['api-1']);
    const seen = env.fake.requestsTo(/\/api\/v1\/namespaces\/ns1\/pods/).at(-1)!;
    assert.deepEqual(seen.header('impersonate-user'), ['plain.alice']);
    await assert.rejects(kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'ns2' }), /403|forbidden/i);
  });

  it('watches pods and receives events as they happen', async () => {
    const events: string[] = [];
    let abort: { abort(): void } | undefined;
    const added = new Promise<void>((resolve, reject) => {
      new Watch(kc)
        .watch(
          '/api/v1/namespaces/ns1/pods',
          {},
          (type: string, obj: { metadata?: { name?: string } }) => {
            events.push(`${type} ${obj.metadata?.name}`);
            if (obj.metadata?.name === 'api-2') resolve();
          },
          (err: unknown) => err && reject(err),
        )
        .then((req) => (abort = req), reject);
    });
    await env.fake.waitFor(() => env.fake.streams.watch === 1);
    env.fake.addPod('ns1', 'api-2');
    await added;
    abort?.abort();
    assert.ok(events.includes('ADDED api-2'), events.join(', '));
    await env.fake.waitFor(() => env.fake.streams.watch === 0);
  });
});
