import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { tempDir } from '../helpers/app';
import { agentDials, podEnv, spawnAgent, writeServiceAccount, type AgentProcess } from '../helpers/agent';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { openH1, openH2, openUpgrade } from '../helpers/stream-clients';
import { waitFor } from '../helpers/wait';

const WATCH = '/api/v1/namespaces/ns1/pods?watch=1';
const FOLLOW = '/api/v1/namespaces/ns1/pods/web-1/log?follow=true';
const PORT_FORWARD = '/api/v1/namespaces/ns1/pods/web-1/portforward?ports=80';

/** Idle pooled connections to the apiserver are dropped after 1 s (HTTP/1.1) and 2 s (HTTP/2), not 30 s and 120 s. */
function quickIdle(): Partial<Config> {
  const { proxy } = loadConfig({ env: {}, cwd: tempDir() });
  return { proxy: { ...proxy, idleConnectionSeconds: 1, idleH2SessionSeconds: 2 } };
}

/** A gauge's value from a Prometheus text page. */
async function gauge(url: string, name: string): Promise<number> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} in ${url}`);
  return Number(m[1]);
}

/**
 * Many streams and requests through the real agent's tunnel, then none: the virtual connections open
 * on both ends (the gateway's and the agent's gauges) go back to zero, so none leak.
 */
// The store plays no part here: one dialect.
for (const dialect of ['sqlite'] as const) {
  describe(`virtual connections through an agent tunnel return to zero (${dialect})`, () => {
    let env: GatewayEnv;
    let agent: AgentProcess;
    let gatewayMetrics: string;
    let agentMetrics: string;
    const gwConns = () => gauge(gatewayMetrics, 'bcs_api_tunnel_connections');
    const agentConns = () => gauge(agentMetrics, 'bcs_agent_tunnel_connections');

    before(async () => {
      env = await startGatewayEnv(dialect, quickIdle(), () => 'https://127.0.0.1:1');
      env.fake.addPod('ns1', 'web-1');
      gatewayMetrics = `${env.gw.app.listening.urls.find((u) => u.startsWith('http:'))!}/metrics`;
      const saDir = writeServiceAccount(env.fake.token, env.fake.caPem);
      const pod = podEnv({ saDir, apiserverPort: Number(new URL(env.fake.url).port), registerToken: env.registerToken, serverCert: env.gatewayCaPem });
      agent = spawnAgent(['--bke-address', env.httpsUrl, '--cluster-id', env.clusterId, '--use-websocket', '--give-up-after', '0'], pod);
      agentMetrics = `http://127.0.0.1:${await agent.healthPort()}/metrics`;
      await agent.waitForLog('tunnel connected');
      await waitFor('cluster routed through the tunnel', () => fetch(env.tunnelUrl('/api/v1/namespaces/ns1/pods'), { headers: { authorization: `Bearer ${env.gw.adminToken}` } }).then((r) => r.status === 200), 15_000);
    });
    after(async () => {
      await agent?.stop();
      await env?.stop();
    });

    it('opens watches, log follows, HTTP/2 streams, port-forwards and plain requests, and returns to zero once they stop', async () => {
      const watches = await openH1(env.tunnelUrl(WATCH), env.gw.adminToken, 30);
      const follows = await openH1(env.tunnelUrl(FOLLOW), env.gw.adminToken, 10);
      const h2 = await openH2(env, `/tunnels/clusters/${env.identifier}${WATCH}`, 20);
      const upgrades = await Promise.all(Array.from({ length: 10 }, (_, i) => openUpgrade(env, PORT_FORWARD, i % 2 ? 'spdy' : 'websocket', 'tls')));
      const lists = await Promise.all(
        Array.from({ length: 40 }, () => fetch(env.tunnelUrl('/api/v1/namespaces/ns1/pods'), { headers: { authorization: `Bearer ${env.gw.adminToken}` } }).then((r) => r.status)),
      );
      assert.ok(lists.every((s) => s === 200), String(lists));
      await waitFor('streams open at the apiserver', () => env.fake.streams.watch >= 50 && env.fake.streams.log >= 10, 20_000);
      // The streams hold connections open on both ends while they last: HTTP/2 to the apiserver carries
      // the watches on a few, each port-forward upgrade has one of its own.
      const during = { gateway: await gwConns(), agent: await agentConns() };
      assert.ok(during.gateway >= upgrades.length && during.agent >= upgrades.length, JSON.stringify(during));
      // Upgrades and short requests through TLS the agent ended (one connection each); the 60 watches and
      // follows on HTTP/2 with TLS run by the gateway, multiplexed over a few connections.
      const dials = await agentDials(agent);
      assert.ok(dials.tls >= upgrades.length && dials.tcp >= 1 && dials.tcp <= 3, JSON.stringify(dials));

      for (const r of [...watches, ...follows]) r.destroy();
      h2.session.destroy();
      for (const u of upgrades) u.socket.destroy();

      // Soon, every virtual connection left is an idle pooled connection to the apiserver, the same on both ends.
      await waitFor('both ends agree with the apiserver', async () => {
        const [g, a] = [await gwConns(), await agentConns()];
        return g === a && a === env.fake.connections && env.fake.streams.watch === 0 ? true : undefined;
      }, 30_000, 250);
      // Then the pools drop them once idle (proxy.idle_connection_seconds, proxy.idle_h2_session_seconds).
      await waitFor('gateway virtual connections back to zero', async () => ((await gwConns()) === 0 ? true : undefined), 20_000, 250);
      await waitFor('agent virtual connections back to zero', async () => ((await agentConns()) === 0 ? true : undefined), 30_000, 250);
      await waitFor('apiserver connections closed', () => env.fake.connections === 0, 30_000, 250);
    });
  });
}
