/**
 * `proxy.workers: 2`: the gateway as `bcs-api serve` runs it, two worker processes sharing the port.
 * Each worker has its own caches; a token revoked through one must be refused by both within a second.
 * Connections are handed to the workers in turn, so requests on fresh connections reach both, and
 * the workers' own metrics (labelled `worker`) show that both served and both refused.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/app';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { freePorts } from '../helpers/serve-process';
import { getOnFreshConnection, perWorker, startWorkersGateway } from '../helpers/workers-gateway';

const REQUESTS = 20;

describe('proxy.workers: 2', () => {
  let fake: FakeKube;
  let child: ChildProcess;
  let base: string;
  let admin: string;
  let prefix: string;

  before(async () => {
    fake = await startFakeKube();
    fake.addPod('default', 'w-pod');
    const dir = tempDir();
    const [port] = await freePorts(1);
    fs.writeFileSync(path.join(dir, 'c.yaml'), `data_dir: ${dir}/data\naddress: 127.0.0.1\nport: 0\ninsecure_port: ${port}\nallow_insecure_listener: true\nlog_level: info\nproxy:\n  workers: 2\n`);
    ({ child, admin } = await startWorkersGateway(dir));
    base = `http://127.0.0.1:${port}`;
    const api = async (method: string, p: string, body?: unknown, auth = true): Promise<unknown> => {
      const res = await fetch(`${base}${p}`, { method, headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${admin}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
      return res.json();
    };
    const cluster = (await api('POST', '/rest/clusters/bcs', { id: 'BCS-K8S-W1', project_id: 'p', cluster_type: 'k8s' })) as { identifier: string };
    const [rtoken] = (await api('POST', '/rest/clusters/BCS-K8S-W1/register_tokens')) as { token: string }[];
    await api('PUT', '/rest/clusters/BCS-K8S-W1/credentials', { register_token: rtoken!.token, server_addresses: fake.url, cacert_data: fake.caPem, user_token: fake.token }, false);
    prefix = `/tunnels/clusters/${cluster.identifier}`;
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await fake?.stop();
  });

  const metrics = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
  const graphql = async <T>(query: string): Promise<T> => {
    const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify({ query }) });
    const body = (await res.json()) as { data?: T; errors?: unknown };
    assert.ok(body.data, JSON.stringify(body.errors));
    return body.data;
  };

  it('refuses a revoked token in every worker within a second', async () => {
    const { issueToken } = await graphql<{ issueToken: { secret: string; token: { id: number } } }>('mutation { issueToken(input: {name: "w"}) { secret token { id } } }');
    const url = `${base}${prefix}/api/v1/namespaces/default/pods/w-pod`;
    const served = perWorker(await metrics(), 'bcs_api_request_count_total', /type="k8s_native"/);
    const ok = await Promise.all(Array.from({ length: REQUESTS }, () => getOnFreshConnection(url, issueToken.secret)));
    assert.deepEqual(ok, Array(REQUESTS).fill(200));
    const servedAfter = perWorker(await metrics(), 'bcs_api_request_count_total', /type="k8s_native"/);
    for (const w of ['1', '2']) assert.ok((servedAfter.get(w) ?? 0) > (served.get(w) ?? 0), `worker ${w} served (and cached the token): ${JSON.stringify([...servedAfter])}`);

    const refusedBefore = perWorker(await metrics(), 'bcs_api_request_err_count_total', /type="k8s_native"/);
    const t0 = Date.now();
    await graphql(`mutation { revokeToken(id: ${issueToken.token.id}) { id } }`);
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 1000 - Date.now())));
    const refused = await Promise.all(Array.from({ length: REQUESTS }, () => getOnFreshConnection(url, issueToken.secret)));
    assert.deepEqual(refused, Array(REQUESTS).fill(401), 'a second after the revocation was sent');
    const refusedAfter = perWorker(await metrics(), 'bcs_api_request_err_count_total', /type="k8s_native"/);
    for (const w of ['1', '2']) assert.ok((refusedAfter.get(w) ?? 0) > (refusedBefore.get(w) ?? 0), `worker ${w} refused: ${JSON.stringify([...refusedAfter])}`);
  });

  // After the requests above: a worker that has not collected garbage yet has no GC series.
  it('exposes event-loop delay and GC pauses for each worker on /metrics', async () => {
    const text = await metrics();
    for (const name of ['nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds', 'nodejs_gc_duration_seconds_count']) {
      assert.deepEqual([...perWorker(text, name, /.*/).keys()].sort(), ['1', '2'], `${name} for both workers`);
    }
    assert.match(text, /^nodejs_gc_duration_seconds_bucket\{le="0\.002",kind="[a-z]+",worker="[12]"\} \d+$/m, 'GC pauses in milliseconds buckets');
  });
});
