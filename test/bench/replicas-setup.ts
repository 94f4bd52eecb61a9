/**
 * The system of `bench:replicas`: one real ZooKeeper, one MariaDB database, three gateway replicas as
 * processes of their own (so their CPU and memory can be read) peering with a shared secret over their
 * TLS listeners, a fake apiserver in its own process, and light simulated agents (one process per
 * replica) each holding the only tunnel of a cluster that has no reachable address.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { generateCerts } from '../helpers/fake-kube/certs';
import { ZooKeeperServer } from '../helpers/zookeeper';
import { start } from './bench-common';
import { startGateway, type BenchCluster, type BenchGateway } from './tunnel-gateway';

export type Fake = { url: string; caPem: string; token: string; pid: number };

export interface ReplicaSystem {
  replicas: BenchGateway[];
  fake: Fake;
  /** Cluster i's agent is connected to replica i % replicas.length. */
  clusters: BenchCluster[];
  /** Agent process per replica. */
  agentPids: number[];
  /** Sum of a metric over every replica. */
  total(metric: string): Promise<number>;
  stop(): Promise<void>;
}

/** Light agents for `clusters` in a process of their own, connected to `gw`; resolves once all are open. */
async function simAgents(work: string, dist: string, gw: BenchGateway, fake: Fake, gatewayCa: string, clusters: BenchCluster[], tag: string): Promise<number> {
  const cfg = path.join(work, `agents-${tag}.json`);
  fs.writeFileSync(cfg, JSON.stringify({ gatewayUrl: gw.tlsBase, gatewayCa, address: fake.url, userToken: fake.token, caPem: fake.caPem, clusters: clusters.map((c) => ({ clusterId: c.id, registerToken: c.registerToken })) }));
  const p = await start(process.execPath, [path.join(dist, 'test/bench/tunnel-agents.js'), cfg], /connected (\d+)/);
  return p.child.pid!;
}

export async function startReplicaSystem(work: string, dist: string, opts: { replicas: number; agents: number; maxInflight: number }): Promise<ReplicaSystem> {
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const fakeProc = await start(process.execPath, [path.join(dist, 'test/bench/fake-process.js')], /^\{.*\}$/m);
    const fake = { ...(JSON.parse(fakeProc.match[0]) as Omit<Fake, 'pid'>), pid: fakeProc.child.pid! };
    const zk = await ZooKeeperServer.start();
    cleanups.push(() => zk.dispose());
    const db: TestDatabase = await createTestDatabase('mysql', work);
    cleanups.push(() => db.drop());
    if (db.config.dialect !== 'mysql') throw new Error('expected a MariaDB database');
    const t = db.config.target;
    const dsn = `mysql://${encodeURIComponent(t.user)}${t.password ? `:${encodeURIComponent(t.password)}` : ''}@${t.host}:${t.port}/${t.dbName}`;
    const certs = generateCerts();
    fs.writeFileSync(path.join(work, 'gw-cert.pem'), certs.certPem);
    fs.writeFileSync(path.join(work, 'gw-key.pem'), certs.keyPem);
    fs.writeFileSync(path.join(work, 'gw-ca.pem'), certs.caPem);
    // Replicas verify each other's TLS listener against this CA (peering.ca_file defaults to ca_file).
    const yaml = `ca_file: ${work}/gw-ca.pem\ndatabase:\n  dsn: ${dsn}\n  pool_max: 10\nbcs_zookeeper: ${zk.connectString}\npeering:\n  secret: ${crypto.randomBytes(32).toString('hex')}\n`;
    // One after another: the first migrates the database, creates the admin and the data dir's keyring the others share.
    const first = await startGateway(work, dist, opts.maxInflight, { name: 'replica-a', yaml });
    const replicas = [first];
    for (let i = 1; i < opts.replicas; i += 1) replicas.push(await startGateway(work, dist, opts.maxInflight, { name: `replica-${String.fromCharCode(97 + i)}`, yaml, admin: first.admin }));
    const clusters: BenchCluster[] = [];
    for (let i = 1; i <= opts.agents; i += 1) clusters.push(await first.cluster(`BENCH-K8S-R${i}`));
    const agentPids: number[] = [];
    for (const [r, gw] of replicas.entries()) {
      agentPids.push(await simAgents(work, dist, gw, fake, certs.caPem, clusters.filter((_, i) => i % replicas.length === r), `r${r}`));
    }
    return {
      replicas,
      fake,
      clusters,
      agentPids,
      total: async (metric) => (await Promise.all(replicas.map((r) => r.metric(metric)))).reduce((a, b) => a + b, 0),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
