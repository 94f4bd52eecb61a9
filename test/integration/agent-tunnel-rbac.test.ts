import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCluster } from '../../src/domain/clusters';
import { createRegisterToken } from '../../src/domain/register-tokens';
import { podEnv, spawnAgent, writeServiceAccount, type AgentProcess } from '../helpers/agent';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { bindingsFor, rbacConfig, rbacObjects, waitUntil } from '../helpers/rbac';

const CLUSTER = 'BCS-K8S-40101';
const GRANT = 'mutation($i: CreateRbacGrantInput!) { createRbacGrant(input: $i) { id } }';

interface Status {
  result: string | null;
  server: string | null;
  lastError: string | null;
}

/**
 * A cluster that never reported credentials: the gateway knows it only through the tunnel its agent
 * (the real `bcs-api agent --use-websocket`) holds. RBAC grants reach its apiserver through that tunnel
 * as soon as it connects; the periodic reconcile is far off, so only the tunnel's arrival can trigger it.
 */
describe('RBAC grants pushed through the agent tunnel', () => {
  let env: GatewayEnv;
  let agent: AgentProcess | undefined;
  let registerToken: string;

  const status = async (): Promise<Status> => {
    const r = await env.graphql<{ rbacSyncStatus: Status }>(env.gw.adminToken, 'query($c: String!) { rbacSyncStatus(clusterId: $c) { result server lastError } }', { c: CLUSTER });
    assert.ok(r.data, JSON.stringify(r.errors));
    return r.data.rbacSyncStatus;
  };
  const aliceBindings = () => bindingsFor(env.fake, 'rolebindings', 'plain.alice', 'bke-workloads-view');

  before(async () => {
    // The suite's own cluster reports an address nothing listens on; it plays no part here.
    env = await startGatewayEnv('sqlite', { rbac: rbacConfig({ reconcileIntervalSeconds: 3600 }) }, () => 'https://127.0.0.1:1');
    env.fake.addPod('ns1', 'web-1');
    const ctx = () => env.gw.app.runtime.context();
    await createCluster(ctx(), undefined, { id: CLUSTER, clusterType: 'k8s', projectId: 'proj' });
    registerToken = (await createRegisterToken(ctx(), undefined, CLUSTER)).secret;
  });
  after(async () => {
    await agent?.stop();
    await env?.stop();
  });

  it('applies a grant made before the tunnel once the agent connects, and removes it through the tunnel when revoked', async () => {
    const made = await env.graphql<{ createRbacGrant: { id: number } }>(env.gw.adminToken, GRANT, {
      i: { subjectKind: 'USER', subjectName: 'plain:alice', clusterId: CLUSTER, scope: 'NAMESPACE', namespace: 'ns1', template: 'bke-workloads-view' },
    });
    assert.ok(made.data, JSON.stringify(made.errors));
    // Without a tunnel there is no way in: the sync is skipped, nothing reaches the apiserver.
    const skipped = await waitUntil('the sync to be skipped', async () => ((await status()).result === 'SKIPPED' ? true : undefined));
    assert.ok(skipped);
    assert.equal(aliceBindings().length, 0);

    const apiserver = new URL(env.fake.url);
    const saDir = writeServiceAccount(env.fake.token, env.fake.caPem);
    agent = spawnAgent(
      ['--bke-address', env.httpsUrl, '--cluster-id', CLUSTER, '--use-websocket', '--give-up-after', '0'],
      podEnv({ saDir, apiserverPort: Number(apiserver.port), registerToken, serverCert: env.gatewayCaPem }),
    );
    await agent.waitForLog('tunnel connected');

    const [binding] = await waitUntil('the RoleBinding to arrive through the tunnel', () => (aliceBindings().length === 1 ? aliceBindings() : undefined)).catch(async (err: Error) => {
      throw new Error(`${err.message}; sync status ${JSON.stringify(await status())}`);
    });
    assert.equal(binding!.metadata.namespace, 'ns1');
    assert.ok(rbacObjects(env.fake, 'clusterroles').some((r) => r.metadata.name === 'bke-workloads-view'), 'the template ClusterRole too');
    const applied = await waitUntil('the sync to be recorded', async () => {
      const s = await status();
      return s.result === 'OK' ? s : undefined;
    });
    assert.equal(applied.server, apiserver.origin, 'the address the agent registered, reached through its tunnel');

    const removed = await env.graphql(env.gw.adminToken, 'mutation($id: Int!) { deleteRbacGrant(id: $id) { id } }', { id: made.data.createRbacGrant.id });
    assert.equal(removed.errors, undefined, JSON.stringify(removed.errors));
    await waitUntil('the RoleBinding to be removed through the tunnel', () => (aliceBindings().length === 0 ? true : undefined));
    assert.ok(env.fake.requests.some((r) => r.method === 'DELETE' && r.url.startsWith('/apis/rbac.authorization.k8s.io/v1/namespaces/ns1/rolebindings/')));
    // A sync reads the cluster's objects over one connection, not one per list (each was a TLS handshake
    // and a virtual connection through the tunnel).
    const before = env.fake.connectionsAccepted;
    const resynced = await env.graphql<{ resyncClusterRbac: Status }>(env.gw.adminToken, 'mutation($c: String!) { resyncClusterRbac(clusterId: $c) { result server lastError } }', { c: CLUSTER });
    assert.equal(resynced.data?.resyncClusterRbac.result, 'OK', JSON.stringify(resynced));
    assert.equal(env.fake.connectionsAccepted - before, 1, 'connections the resync opened to the apiserver');
    // Each sync closes the connections it opened through the tunnel.
    const metrics = `${new URL(env.tunnelUrl('/')).origin}/metrics`;
    await waitUntil('no virtual connection left open', async () => (/^bcs_api_tunnel_connections 0$/m.test(await (await fetch(metrics)).text()) ? true : undefined));
  });
});
