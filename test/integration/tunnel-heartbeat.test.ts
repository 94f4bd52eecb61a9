import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createProxy, type ProxySurfaces } from '../../proxy/index';
import { createCluster } from '../../src/domain/clusters';
import { createRegisterToken } from '../../src/domain/register-tokens';
import { findTunnelCredential, storeTunnelCredential, TUNNEL_STALE_MS, tunnelStatuses } from '../../src/domain/tunnel-credentials';
import { startListeners, type Listening } from '../../src/http/server';
import { TunnelCredential } from '../../src/store/entities';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { DIALECTS } from '../helpers/db';
import { generateCerts } from '../helpers/fake-kube/certs';
import { TunnelAgent } from '../helpers/tunnel-agent';
import { waitFor } from '../helpers/wait';

/**
 * A gateway process that crashes leaves its tunnel rows behind. Each row names its process and carries
 * a heartbeat the holders refresh; a row whose heartbeat is old reads as no tunnel and is deleted when a
 * gateway starts and by its periodic housekeeping, while live tunnels' rows stay.
 */
for (const dialect of DIALECTS) {
  describe(`tunnel rows of dead gateway processes (${dialect})`, () => {
    let t: TestRuntime;
    let proxy: ProxySurfaces | undefined;
    let listening: Listening | undefined;
    const { caPem } = generateCerts();
    const ctx = () => t.rt.context();
    const rows = async (clusterId: string) => ctx().em.find(TunnelCredential, { cluster: clusterId });

    /** A row as a gateway process that has since died wrote it: its heartbeat is older than the limit. */
    const deadRow = async (clusterId: string) => {
      await storeTunnelCredential(ctx(), clusterId, { ownerId: 'dead-process', serverAddress: 'https://10.0.0.1:6443', caCertPem: caPem, userToken: 'sa-token', connectedAt: new Date() });
      await ctx().em.nativeUpdate(TunnelCredential, { cluster: clusterId }, { heartbeatAt: new Date(Date.now() - TUNNEL_STALE_MS - 15_000) });
    };

    before(async () => {
      t = await startTestRuntime(dialect, { plain: { address: '127.0.0.1', port: 0 } });
      for (const id of ['BCS-K8S-42001', 'BCS-K8S-42002', 'BCS-K8S-42003', 'BCS-K8S-42004']) await createCluster(ctx(), undefined, { id, clusterType: 'k8s', projectId: 'p' });
    });
    after(async () => {
      await listening?.close();
      await proxy?.stop();
      await t?.stop();
    });

    it('a stale row reads as no tunnel; a fresh one from another process is shown', async () => {
      await deadRow('BCS-K8S-42001');
      await storeTunnelCredential(ctx(), 'BCS-K8S-42002', { ownerId: 'live-process', serverAddress: 'https://10.0.0.2:6443', caCertPem: caPem, userToken: 'sa-token', connectedAt: new Date() });
      const [dead, live] = await tunnelStatuses(ctx(), ['BCS-K8S-42001', 'BCS-K8S-42002']);
      assert.equal(dead, null, 'the dead process row is not shown');
      assert.equal(live?.apiserverAddress, 'https://10.0.0.2:6443');
      assert.equal(await findTunnelCredential(ctx(), 'BCS-K8S-42001'), null);
      assert.equal((await findTunnelCredential(ctx(), 'BCS-K8S-42002'))?.ownerId, 'live-process');
      assert.equal((await rows('BCS-K8S-42001')).length, 1, 'still in the table until housekeeping');
    });

    it('a starting gateway deletes the stale rows and keeps the fresh ones', async () => {
      // Default period (15 s): within the wait below only the sweep at start can delete it.
      const starting = await createProxy(t.rt, new Registry());
      try {
        await waitFor('stale row deleted at start', async () => (await rows('BCS-K8S-42001')).length === 0, 5000);
        assert.equal((await rows('BCS-K8S-42002')).length, 1, 'another live process row stays');
      } finally {
        await starting.stop();
      }
      // From here on the proxy alone, its heartbeat and housekeeping shortened from 15 s.
      proxy = await createProxy(t.rt, new Registry(), { tunnelHeartbeatMs: 200 });
      listening = await startListeners(t.rt.config, proxy.mounts, t.rt.logger);
    });

    it('housekeeping deletes a row whose process died while this one runs', async () => {
      await deadRow('BCS-K8S-42003');
      await waitFor('stale row deleted by housekeeping', async () => (await rows('BCS-K8S-42003')).length === 0, 10_000);
    });

    it('a live tunnel keeps its row fresh, and stores it again when another process removed it', async () => {
      const { secret } = await createRegisterToken(ctx(), undefined, 'BCS-K8S-42004', 3600);
      const agent = await TunnelAgent.connect({ gatewayUrl: listening!.urls[0]!, clusterId: 'BCS-K8S-42004', registerToken: secret, address: 'https://127.0.0.1:1', userToken: 'sa', caPem });
      try {
        const stored = await waitFor('row stored', () => findTunnelCredential(ctx(), 'BCS-K8S-42004'), 10_000);
        assert.match(stored.ownerId ?? '', /^[0-9a-f]{32}$/);
        // Aged past the limit (as if the store had been unreachable): the holder's next round refreshes it before pruning.
        const aged = new Date(Date.now() - TUNNEL_STALE_MS - 15_000);
        await ctx().em.nativeUpdate(TunnelCredential, { cluster: 'BCS-K8S-42004' }, { heartbeatAt: aged });
        const fresh = await waitFor('heartbeat refreshed', async () => {
          const r = (await rows('BCS-K8S-42004'))[0];
          return r?.heartbeatAt && r.heartbeatAt > aged ? r : undefined;
        }, 10_000);
        assert.equal(fresh.ownerId, stored.ownerId);
        // A replica's closing tunnel removed the row: the holder stores it again.
        await ctx().em.nativeDelete(TunnelCredential, { cluster: 'BCS-K8S-42004' });
        await waitFor('row stored again', () => findTunnelCredential(ctx(), 'BCS-K8S-42004'), 10_000);
      } finally {
        await agent.close();
      }
      await waitFor('row removed with the tunnel', async () => (await rows('BCS-K8S-42004')).length === 0, 10_000);
    });
  });
}
