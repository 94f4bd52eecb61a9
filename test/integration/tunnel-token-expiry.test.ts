import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createProxy, type ProxySurfaces } from '../../proxy/index';
import { createCluster } from '../../src/domain/clusters';
import { createRegisterToken } from '../../src/domain/register-tokens';
import { startListeners, type Listening } from '../../src/http/server';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { generateCerts } from '../helpers/fake-kube/certs';
import { TunnelAgent } from '../helpers/tunnel-agent';
import { waitFor } from '../helpers/wait';

for (const dialect of DIALECTS) {
  describe(`agent tunnels end when their register token expires (${dialect})`, () => {
    let t: TestRuntime;
    let proxy: ProxySurfaces;
    let listening: Listening;
    const { caPem } = generateCerts();

    before(async () => {
      t = await startTestRuntime(dialect, { plain: { address: '127.0.0.1', port: 0 } });
      // The proxy alone, with the periodic token check shortened from 60 s.
      proxy = await createProxy(t.rt, new Registry(), { tunnelRecheckMs: 200 });
      listening = await startListeners(t.rt.config, proxy.mounts, t.rt.logger);
    });
    after(async () => {
      await listening?.close();
      await proxy?.stop();
      await t?.stop();
    });

    it('closes a tunnel once its token expires, without any change being made, and refuses the token afterwards', async () => {
      const ctx = () => t.rt.context();
      await createCluster(ctx(), undefined, { id: 'BCS-K8S-41001', clusterType: 'k8s', projectId: 'p' });
      const { secret } = await createRegisterToken(ctx(), undefined, 'BCS-K8S-41001', 2);
      const opts = { gatewayUrl: listening.urls[0]!, clusterId: 'BCS-K8S-41001', registerToken: secret, address: 'https://127.0.0.1:1', userToken: 'sa', caPem };
      const agent = await TunnelAgent.connect(opts);
      assert.equal(proxy.tunnels.stateOf('BCS-K8S-41001').connected, true);
      const closed = await waitFor('tunnel closed on expiry', () => agent.closeInfo, 10_000);
      assert.equal(closed.code, 1008);
      assert.match(closed.reason, /expired/);
      assert.equal(proxy.tunnels.stateOf('BCS-K8S-41001').connected, false);
      const refused = (await TunnelAgent.connect(opts).catch((e: unknown) => e)) as { status?: number };
      assert.equal(refused.status, 401);
    });
  });
}
