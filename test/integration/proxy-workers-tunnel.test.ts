/**
 * `proxy.workers: 2` with an agent tunnel: the agent's websocket reaches one worker, and requests that
 * the primary hands to the other worker go through that worker's tunnel over its relay socket. The
 * cluster's stored address refuses connections, so a request served any other way fails. Then the
 * holding worker is killed: the agent reconnects to a worker and requests succeed again.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { podEnv, spawnAgent, writeServiceAccount, type AgentProcess } from '../helpers/agent';
import { tempDir } from '../helpers/app';
import { kubectl, startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { generateCerts } from '../helpers/fake-kube/certs';
import { freePorts } from '../helpers/serve-process';
import { waitFor } from '../helpers/wait';
import { getOnFreshConnection, perWorker, startWorkersGateway } from '../helpers/workers-gateway';

const REQUESTS = 20;
const CLUSTER = 'BCS-K8S-W2';

const diff = (after: Map<string, number>, before: Map<string, number>, w: string): number => (after.get(w) ?? 0) - (before.get(w) ?? 0);

/** The pid of a worker of `primary` by its cluster id (node:cluster hands it to the worker as NODE_UNIQUE_ID). */
function workerPid(primary: number, id: string): number {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const ppid = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (ppid === primary && fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`NODE_UNIQUE_ID=${id}`)) return Number(pid);
    } catch {
      // Gone meanwhile, or not ours.
    }
  }
  throw new Error(`no worker ${id} under ${primary}`);
}

describe('proxy.workers: 2 with an agent tunnel', () => {
  let fake: FakeKube;
  let child: ChildProcess;
  let agent: AgentProcess | undefined;
  let base: string;
  let admin: string;
  let url: string;
  let dir: string;

  before(async () => {
    fake = await startFakeKube();
    fake.addPod('ns1', 'web-1');
    dir = tempDir();
    const certs = generateCerts();
    for (const [name, pem] of [['ca.pem', certs.caPem], ['cert.pem', certs.certPem], ['key.pem', certs.keyPem]] as const) fs.writeFileSync(path.join(dir, name), pem);
    const [port, tlsPort] = await freePorts(2);
    fs.writeFileSync(
      path.join(dir, 'c.yaml'),
      `data_dir: ${dir}/data\naddress: 127.0.0.1\nport: ${tlsPort}\ninsecure_port: ${port}\nallow_insecure_listener: true\nlog_level: info\n` +
        `server_cert_file: ${dir}/cert.pem\nserver_key_file: ${dir}/key.pem\nca_file: ${dir}/ca.pem\nproxy:\n  workers: 2\n`,
    );
    ({ child, admin } = await startWorkersGateway(dir));
    base = `http://127.0.0.1:${port}`;
    const api = async (method: string, p: string, body?: unknown, auth = true): Promise<unknown> => {
      const res = await fetch(`${base}${p}`, { method, headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${admin}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
      return res.json();
    };
    const cluster = (await api('POST', '/rest/clusters/bcs', { id: CLUSTER, project_id: 'p', cluster_type: 'k8s' })) as { identifier: string };
    const [rtoken] = (await api('POST', `/rest/clusters/${CLUSTER}/register_tokens`)) as { token: string }[];
    // The stored address refuses connections: only the agent's tunnel reaches the fake apiserver.
    await api('PUT', `/rest/clusters/${CLUSTER}/credentials`, { register_token: rtoken!.token, server_addresses: 'https://127.0.0.1:1', cacert_data: fake.caPem, user_token: fake.token }, false);
    url = `${base}/tunnels/clusters/${cluster.identifier}/api/v1/namespaces/ns1/pods/web-1`;
    assert.notEqual(await getOnFreshConnection(url, admin), 200, 'the cluster must not be reachable without its tunnel');

    const saDir = writeServiceAccount(fake.token, fake.caPem);
    const pod = podEnv({ saDir, apiserverPort: Number(new URL(fake.url).port), registerToken: rtoken!.token, serverCert: certs.caPem });
    agent = spawnAgent(['--bke-address', `https://127.0.0.1:${tlsPort}`, '--cluster-id', CLUSTER, '--use-websocket', '--give-up-after', '0'], pod);
    await agent.waitForLog('tunnel connected');
  });
  after(async () => {
    await agent?.stop();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await fake?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const metrics = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
  /** The worker holding the agent's tunnel, from the workers' own session gauges. */
  const holder = async (): Promise<string> => {
    const held = [...perWorker(await metrics(), 'bcs_api_tunnel_sessions')].filter(([, n]) => n > 0);
    assert.equal(held.length, 1, `one worker holds the tunnel: ${JSON.stringify(held)}`);
    return held[0]![0];
  };
  /** REQUESTS GETs on fresh connections, all 200, served by every live worker, the non-holders through the holder. */
  const allThroughTheTunnel = async (): Promise<void> => {
    const held = await holder();
    const m0 = await metrics();
    const statuses = await Promise.all(Array.from({ length: REQUESTS }, () => getOnFreshConnection(url, admin)));
    assert.deepEqual(statuses, Array(REQUESTS).fill(200));
    const m1 = await metrics();
    const served = [perWorker(m1, 'bcs_api_request_count_total', /type="k8s_native"/), perWorker(m0, 'bcs_api_request_count_total', /type="k8s_native"/)] as const;
    const workers = [...perWorker(m1, 'bcs_api_tunnel_sessions').keys()];
    assert.equal(workers.length, 2, `two workers answer: ${workers.join()}`);
    for (const w of workers) assert.ok(diff(...served, w) > 0, `worker ${w} served some: ${JSON.stringify([...served[0]])}`);
    const relayed = [perWorker(m1, 'bcs_api_worker_relays_dialled_total', /result="ok"/), perWorker(m0, 'bcs_api_worker_relays_dialled_total', /result="ok"/)] as const;
    const other = workers.find((w) => w !== held)!;
    assert.ok(diff(...relayed, other) > 0, `worker ${other} relayed through worker ${held}: ${JSON.stringify([...relayed[0]])}`);
    const servedRelays = [perWorker(m1, 'bcs_api_worker_relays_served_total', /status="101"/), perWorker(m0, 'bcs_api_worker_relays_served_total', /status="101"/)] as const;
    assert.ok(diff(...servedRelays, held) > 0, `worker ${held} served relays`);
  };

  it('serves every request through the one tunnel, whichever worker receives it', async () => {
    // The other worker hears of the tunnel from the primary a moment after the agent's handshake.
    await waitFor('both workers route through the tunnel', async () => ((await Promise.all([getOnFreshConnection(url, admin), getOnFreshConnection(url, admin)])).every((s) => s === 200) ? true : undefined), 10_000);
    await allThroughTheTunnel();
  });

  it('kubectl get through the TLS listener, on either worker', async () => {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: 'mutation($c: ID!) { kubeconfig(clusterId: $c) { kubeconfig } }', variables: { c: CLUSTER } }),
    });
    const body = (await res.json()) as { data?: { kubeconfig: { kubeconfig: string } }; errors?: unknown };
    assert.ok(body.data, JSON.stringify(body.errors));
    const kc = path.join(dir, 'admin.kubeconfig');
    fs.writeFileSync(kc, body.data.kubeconfig.kubeconfig, { mode: 0o600 });
    // kubectl opens a connection per run: two runs land on different workers.
    for (let i = 0; i < 4; i += 1) {
      const pods = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name', '--request-timeout', '20s'], { kubeconfig: kc });
      assert.equal(pods.code, 0, pods.stderr);
      assert.match(pods.stdout, /pod\/web-1/);
    }
  });

  it('the holding worker killed: the agent reconnects to a worker and every request succeeds again', async () => {
    const held = await holder();
    const from = agent!.logs().length;
    process.kill(workerPid(child.pid!, held), 'SIGKILL');
    await agent!.waitForLog('tunnel closed', 20_000, from);
    await agent!.waitForLog('tunnel connected', 45_000, from);
    // The primary replaces the dead worker (a new id) a second after it died.
    await waitFor('a replacement worker', async () => {
      const workers = [...perWorker(await metrics(), 'bcs_api_tunnel_sessions').keys()];
      return workers.length === 2 && !workers.includes(held) ? true : undefined;
    }, 30_000, 200);
    await waitFor('both workers route through the new tunnel', async () => ((await Promise.all([getOnFreshConnection(url, admin), getOnFreshConnection(url, admin)])).every((s) => s === 200) ? true : undefined), 10_000);
    await allThroughTheTunnel();
  });
});
