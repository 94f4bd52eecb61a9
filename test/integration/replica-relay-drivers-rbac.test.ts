import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCluster } from '../../src/domain/clusters';
import { createRegisterToken } from '../../src/domain/register-tokens';
import { recordingDriver, type SeenRequest } from '../helpers/fake-driver';
import { bindingsFor, rbacConfig, waitUntil } from '../helpers/rbac';
import { startReplicas, type Replicas } from '../helpers/relay-replicas';
import { TunnelAgent } from '../helpers/tunnel-agent';

const MESOS = 'BCS-MESOS-40201';
const TUNNEL_ONLY = 'BCS-K8S-40202';

/** Driver tunnels and RBAC pushes across replicas: the tunnel is held by A, the work is done by another replica. */
describe('replicas relay driver tunnels and RBAC pushes', () => {
  let r: Replicas;
  const agents: TunnelAgent[] = [];
  const ctx = () => r.env.gw.app.runtime.context();

  before(async () => {
    r = await startReplicas();
    r.env.fake.addPod('ns1', 'web-1');
  });
  after(async () => {
    for (const a of agents) await a.close();
    await r?.stop();
  });

  it('serves the Mesos passthrough on B through the driver tunnel A holds', async () => {
    const b = await r.start();
    await createCluster(ctx(), undefined, { id: MESOS, clusterType: 'mesos', projectId: 'p' });
    const registerToken = (await createRegisterToken(ctx(), undefined, MESOS)).secret;
    const seen: SeenRequest[] = [];
    const driver = await recordingDriver(seen, MESOS);
    const call = (): Promise<Response> =>
      fetch(`${b.httpUrl}/bcsapi/v4/scheduler/mesos/cluster/resources`, { headers: { authorization: `Bearer ${r.env.gw.adminToken}`, 'BCS-ClusterID': MESOS }, signal: AbortSignal.timeout(20_000) });
    try {
      assert.notEqual((await call()).status, 200, 'no driver anywhere yet');
      // The driver reports an address only its own end can reach: a request that arrives went through A's tunnel.
      const tunnel = await TunnelAgent.connect({ gatewayUrl: r.env.httpsUrl, gatewayCa: r.env.gatewayCaPem, module: 'mesos-driver', clusterId: MESOS, registerToken, address: 'http://10.255.0.9:31000', dialTo: () => ({ host: '127.0.0.1', port: driver.info.port }) });
      agents.push(tunnel);
      const res = await waitUntil('B to reach the driver through A', async () => ((await call()).status === 200 ? true : undefined));
      assert.ok(res);
      assert.equal(seen.at(-1)?.url, '/mesosdriver/v4/cluster/resources');
      assert.deepEqual([...new Set(tunnel.connects)], ['tcp/10.255.0.9:31000']);
    } finally {
      driver.server.close();
      await b.stop();
    }
  });

  it('pushes a grant from an --role api replica through the replica holding the tunnel (split roles)', async () => {
    const api = await r.start({ role: 'api', config: { rbac: rbacConfig({ reconcileIntervalSeconds: 3600 }) } });
    try {
      await createCluster(ctx(), undefined, { id: TUNNEL_ONLY, clusterType: 'k8s', projectId: 'proj' });
      const registerToken = (await createRegisterToken(ctx(), undefined, TUNNEL_ONLY)).secret;
      const made = await r.env.graphql(r.env.gw.adminToken, 'mutation($i: CreateRbacGrantInput!) { createRbacGrant(input: $i) { id } }', {
        i: { subjectKind: 'USER', subjectName: 'plain:alice', clusterId: TUNNEL_ONLY, scope: 'NAMESPACE', namespace: 'ns1', template: 'bke-workloads-view' },
      });
      assert.equal(made.errors, undefined, JSON.stringify(made.errors));
      const aliceBindings = () => bindingsFor(r.env.fake, 'rolebindings', 'plain.alice', 'bke-workloads-view');
      assert.equal(aliceBindings().length, 0);
      // A (sync off) holds the tunnel; only the api replica, which has no tunnel server, pushes.
      agents.push(await TunnelAgent.connect({ gatewayUrl: r.env.httpsUrl, gatewayCa: r.env.gatewayCaPem, clusterId: TUNNEL_ONLY, registerToken, address: r.env.fake.url, userToken: r.env.fake.token, caPem: r.env.fake.caPem }));
      const [binding] = await waitUntil('the RoleBinding to arrive through the peer', () => (aliceBindings().length === 1 ? aliceBindings() : undefined)).catch((err: Error) => {
        throw new Error(`${err.message}; the api replica logged ${JSON.stringify(api.logs.warnings().slice(-5))}`);
      });
      assert.equal(binding!.metadata.namespace, 'ns1');
      assert.equal(r.env.gw.app.runtime.config.rbac.syncEnabled, false, 'A does not push');
    } finally {
      await api.stop();
    }
  });
});
