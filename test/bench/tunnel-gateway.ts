/**
 * The gateway of `bench:tunnel` in its own process: TLS listener (where agents open their tunnels) and a
 * plain loopback listener (where the load goes, as in bench:proxy), SQLite store; clusters and register
 * tokens made through the REST API, and readings of its /metrics and of its memory after a full GC.
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, rssKiB, rssParts, sleep, start } from './bench-common';
import { collectGarbage, evaluateIn } from './collect-garbage';

export interface BenchCluster {
  id: string;
  registerToken: string;
  /** `/tunnels/clusters/<identifier>`: the prefix of its requests on the gateway. */
  prefix: string;
}

export interface BenchGateway {
  base: string;
  tlsBase: string;
  admin: string;
  pid: number;
  /** Registers a cluster; with `creds`, reports them as a credential-reporting agent would. */
  cluster(id: string, creds?: { server: string; caPem: string; token: string }): Promise<BenchCluster>;
  /** Sum of a metric's samples on /metrics (0 when absent). */
  metric(name: string): Promise<number>;
  /** Resident memory (KiB), V8 heap used and memory held outside the heap (bytes) once a full collection has run. */
  live(): Promise<{ rssKiB: number; heapUsed: number; heapTotal: number; external: number }>;
  /** After a full collection: the kernel's split of RSS, `process.memoryUsage()` and the process's active handles by kind. */
  memory(): Promise<MemoryDetail>;
  stop(): void;
}

export interface MemoryDetail {
  rssKiB: number;
  anonKiB: number;
  fileKiB: number;
  usage: NodeJS.MemoryUsage;
  handles: Record<string, number>;
}

// Handles grouped by constructor: a socket or timer left behind per session shows as a growing count.
const PROBE = `(() => { const h = {}; for (const x of process._getActiveHandles()) { const k = x?.constructor?.name ?? typeof x; h[k] = (h[k] ?? 0) + 1; } return { usage: process.memoryUsage(), handles: h }; })()`;

/**
 * `opts` for replicas (bench:replicas): `name` tells their files apart, `yaml` adds settings (database,
 * ZooKeeper, peering), and `admin` is the token of the admin the first replica created (later ones print none).
 */
export async function startGateway(work: string, dist: string, maxInflight: number, opts: { name?: string; yaml?: string; admin?: string } = {}): Promise<BenchGateway> {
  const plainPort = await freePort();
  const name = opts.name ?? 'gw';
  const cfg = path.join(work, `${name}.yaml`);
  fs.writeFileSync(
    cfg,
    `data_dir: ${work}/data\naddress: 127.0.0.1\nport: 0\nserver_cert_file: ${work}/gw-cert.pem\nserver_key_file: ${work}/gw-key.pem\ninsecure_port: ${plainPort}\nlog_level: warn\n${opts.yaml ?? ''}proxy:\n  max_inflight: ${maxInflight}\n`,
  );
  const log = path.join(work, `${name}.log`);
  // --inspect-port=0: the inspector stays closed until a memory reading asks for a full collection (SIGUSR1).
  const nodeArgs = ['--inspect-port=0', ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  // The first start prints the admin's token with the TLS URL; later replicas only log where they listen.
  const ready = opts.admin ? /"urls":\["(https:\/\/127\.0\.0\.1:\d+)"/ : /(https:\/\/127\.0\.0\.1:\d+)\/graphql/;
  const gw = await start(process.execPath, [...nodeArgs, path.join(dist, 'src/cli/main.js'), 'serve', '-f', cfg], ready, { BCS_API_LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info' }, log);
  const base = `http://127.0.0.1:${plainPort}`;
  const admin = opts.admin ?? /(bcs_[A-Za-z0-9]{32})/.exec(gw.output())![1]!;
  const api = async (method: string, p: string, body?: unknown, auth = true): Promise<unknown> => {
    const res = await fetch(`${base}${p}`, { method, headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${admin}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const pid = gw.child.pid!;
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${base}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  };
  return {
    base,
    tlsBase: gw.match[1]!,
    admin,
    pid,
    async cluster(id, creds) {
      const c = (await api('POST', '/rest/clusters/bcs', { id, project_id: 'bench', cluster_type: 'k8s' })) as { identifier: string };
      const [rtoken] = (await api('POST', `/rest/clusters/${id}/register_tokens`)) as { token: string }[];
      if (creds) await api('PUT', `/rest/clusters/${id}/credentials`, { register_token: rtoken!.token, server_addresses: creds.server, cacert_data: creds.caPem, user_token: creds.token }, false);
      return { id, registerToken: rtoken!.token, prefix: `/tunnels/clusters/${c.identifier}` };
    },
    metric,
    async live() {
      await collectGarbage(pid, log);
      await sleep(500);
      return { rssKiB: rssKiB(pid), heapUsed: await metric('nodejs_heap_size_used_bytes'), heapTotal: await metric('nodejs_heap_size_total_bytes'), external: await metric('nodejs_external_memory_bytes') };
    },
    async memory() {
      await collectGarbage(pid, log);
      await sleep(500);
      const probe = await evaluateIn<{ usage: NodeJS.MemoryUsage; handles: Record<string, number> }>(pid, log, PROBE);
      return { rssKiB: rssKiB(pid), ...rssParts(pid), ...probe };
    },
    stop: () => gw.child.kill(),
  };
}
