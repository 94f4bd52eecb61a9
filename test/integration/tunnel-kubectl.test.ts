import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { agentDials, podEnv, spawnAgent, writeServiceAccount, type AgentProcess } from '../helpers/agent';
import { kubectl, spawnKubectl } from '../helpers/fake-kube';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { TunnelAgent } from '../helpers/tunnel-agent';
import { waitFor } from '../helpers/wait';

/** What the tests need of an agent: the Connect forms it received, and going away. */
interface HeldTunnel {
  /** `<proto>/<address>` of every Connect so far (the real agent: the forms only, from its metrics). */
  connects(): Promise<string[]>;
  kill(): void | Promise<void>;
  close(): Promise<void>;
}

/**
 * The original's wire as the original Go agent speaks it (test helper, no `agentTls`: `tcp` Connects,
 * TLS run by the gateway), and the real `bcs-api agent`, which ends the apiserver's TLS itself (`tls`).
 */
const AGENTS = {
  'original-wire agent, TLS by the gateway': {
    form: 'tcp',
    watchForm: 'tcp',
    async connect(env: GatewayEnv): Promise<HeldTunnel> {
      const a = await TunnelAgent.connect({ gatewayUrl: env.httpsUrl, gatewayCa: env.gatewayCaPem, clusterId: env.clusterId, registerToken: env.registerToken, address: env.fake.url, userToken: env.fake.token, caPem: env.fake.caPem });
      return { connects: async () => a.connects, kill: () => a.kill(), close: () => a.close() };
    },
  },
  'bcs-api agent, TLS ended by the agent': {
    form: 'tls',
    // Watches stay on HTTP/2 with TLS run by the gateway, so they share one virtual connection.
    watchForm: 'tcp',
    async connect(env: GatewayEnv): Promise<HeldTunnel> {
      const saDir = writeServiceAccount(env.fake.token, env.fake.caPem);
      const pod = podEnv({ saDir, apiserverPort: Number(new URL(env.fake.url).port), registerToken: env.registerToken, serverCert: env.gatewayCaPem });
      const a: AgentProcess = spawnAgent(['--bke-address', env.httpsUrl, '--cluster-id', env.clusterId, '--use-websocket', '--give-up-after', '0'], pod);
      await a.waitForLog('tunnel connected');
      await waitFor('cluster routed through the tunnel', () => fetch(env.tunnelUrl('/api/v1/namespaces/ns1/pods'), { headers: { authorization: `Bearer ${env.gw.adminToken}` } }).then((r) => r.status === 200), 15_000);
      const port = new URL(env.fake.url).port;
      return {
        connects: async () => {
          const d = await agentDials(a);
          return [...Array<string>(d.tcp).fill(`tcp/127.0.0.1:${port}`), ...Array<string>(d.tls).fill(`tls/127.0.0.1:${port}`)];
        },
        kill: async () => {
          a.child.kill('SIGKILL');
          await a.exited;
        },
        close: () => a.stop(),
      };
    },
  },
} as const;

/**
 * The fake apiserver is reachable only through the agent's tunnel: the credential reported for the
 * cluster names a port nothing listens on, so a dialled request fails and a tunnelled one succeeds.
 */
for (const [name, kind] of Object.entries(AGENTS)) describe(`kubectl through an agent tunnel (cluster the gateway cannot dial; ${name})`, () => {
  let env: GatewayEnv;
  let agent: HeldTunnel;
  let adminKc: string;

  const connectAgent = (): Promise<HeldTunnel> => kind.connect(env);

  before(async () => {
    env = await startGatewayEnv('sqlite', {}, () => 'https://127.0.0.1:1');
    env.fake.addPod('ns1', 'web-1');
    adminKc = await env.kubeconfigFor(env.gw.adminToken, 'admin');
    // Without the tunnel the dialled address refuses: the request cannot be served.
    const direct = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name', '--request-timeout', '20s'], { kubeconfig: adminKc });
    assert.notEqual(direct.code, 0, 'the cluster must not be reachable without its tunnel');
    agent = await connectAgent();
  });
  after(async () => {
    await agent?.close();
    await env?.stop();
  });

  it('lists pods through the tunnel, dialling only the address the agent registered', async () => {
    const r = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: adminKc });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pod\/web-1/);
    const fakePort = new URL(env.fake.url).port;
    const connects = await agent.connects();
    assert.ok(connects.length > 0);
    // Only the registered address, and in one form: a fall back to TLS run by the gateway fails here.
    assert.deepEqual([...new Set(connects)], [`${kind.form}/127.0.0.1:${fakePort}`]);
    // The tunnel's service-account token reached the apiserver, with the caller's identity as for a dialled cluster.
    const last = env.fake.requests.at(-1)!;
    assert.equal(last.header('authorization').at(0), `Bearer ${env.fake.token}`);
  });

  it('streams a watch through the tunnel', async () => {
    const watch = spawnKubectl(['get', 'pods', '-n', 'ns1', '-w', '-o', 'name'], { kubeconfig: adminKc });
    try {
      await watch.waitFor(/pod\/web-1/, 15_000);
      env.fake.addPod('ns1', 'web-2');
      await watch.waitFor(/pod\/web-2/, 15_000);
    } finally {
      watch.proc.kill();
    }
  });

  it('follows logs through the tunnel', async () => {
    env.fake.appendLog('ns1', 'web-1', 'first line');
    const logs = spawnKubectl(['logs', '-f', '-n', 'ns1', 'web-1'], { kubeconfig: adminKc });
    try {
      await logs.waitFor(/first line/, 15_000);
      env.fake.appendLog('ns1', 'web-1', 'second line');
      await logs.waitFor(/second line/, 15_000);
    } finally {
      logs.proc.kill();
    }
  });

  it('execs over WebSocket and SPDY through the tunnel', async () => {
    const ws = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'ok'], { kubeconfig: adminKc });
    assert.equal(ws.code, 0, ws.stderr);
    assert.equal(ws.stdout.trim(), 'ok');
    const spdy = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'spdy-ok'], { kubeconfig: adminKc, env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } });
    assert.equal(spdy.code, 0, spdy.stderr);
    assert.equal(spdy.stdout.trim(), 'spdy-ok');
  });

  it('carries a large list through the tunnel (flow control with TLS over the virtual connection)', async () => {
    for (let i = 0; i < 1500; i += 1) env.fake.addPod('big', `pod-${String(i).padStart(4, '0')}-${'x'.repeat(40)}`);
    const r = await kubectl(['get', 'pods', '-n', 'big', '-o', 'json'], { kubeconfig: adminKc });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length > 1024 * 1024, `a list over 1 MiB (${r.stdout.length} bytes)`);
    assert.equal((JSON.parse(r.stdout) as { items: unknown[] }).items.length, 1500);
  });

  it('serves @kubernetes/client-node list and watch through the tunnel', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(fs.readFileSync(adminKc, 'utf8'));
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'ns1' });
    assert.ok(pods.items.some((p) => p.metadata?.name === 'web-1'));
    let abort: { abort(): void } | undefined;
    const added = new Promise<void>((resolve, reject) => {
      new Watch(kc)
        .watch('/api/v1/namespaces/ns1/pods', {}, (type: string, obj: { metadata?: { name?: string } }) => type === 'ADDED' && obj.metadata?.name === 'web-cn' && resolve(), (err: unknown) => err && reject(err))
        .then((req) => (abort = req), reject);
    });
    await env.fake.waitFor(() => env.fake.streams.watch >= 1);
    env.fake.addPod('ns1', 'web-cn');
    await added;
    abort?.abort();
    assert.deepEqual([...new Set((await agent.connects()).map((c) => c.split('/')[0]))].sort(), [...new Set([kind.form, kind.watchForm])].sort(), 'lists in the short-request form, the watch in the long-running one');
  });

  it('counts tunnels, connections and bytes in /metrics', async () => {
    const httpUrl = env.gw.app.listening.urls.find((u) => u.startsWith('http:'))!;
    const text = await (await fetch(`${httpUrl}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const lines = text.split('\n').filter((l) => l.startsWith('bcs_api_tunnel_')).join('\n');
    assert.equal(value('bcs_api_tunnel_sessions'), 1, lines);
    assert.ok(value('bcs_api_tunnel_connects_total') >= 1, lines);
    assert.ok(Number(/^bcs_api_tunnel_bytes_total\{direction="in"\} (\S+)$/m.exec(text)?.[1]) > 100 * 1024, lines);
    assert.ok(value('bcs_api_tunnel_connections') >= 0);
  });

  it('answers 503 quickly when the agent goes, removes the stored tunnel credential, and works again on reconnect', async () => {
    const { findTunnelCredential } = await import('../../src/domain/tunnel-credentials');
    assert.ok(await findTunnelCredential(env.gw.app.runtime.context(), env.clusterId), 'stored while the tunnel lives');
    await agent.kill();
    await waitFor('tunnel credential removed', async () => !(await findTunnelCredential(env.gw.app.runtime.context(), env.clusterId)), 10_000);
    const res = await fetch(env.tunnelUrl('/api/v1/namespaces/ns1/pods'), { headers: { authorization: `Bearer ${env.gw.adminToken}` }, signal: AbortSignal.timeout(20_000) });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { kind: string };
    assert.equal(body.kind, 'Status');

    agent = await connectAgent();
    const r = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: adminKc });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pod\/web-1/);
  });
});
