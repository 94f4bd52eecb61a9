/**
 * `npm run bench:replicas`: three gateway replicas (processes) on one MariaDB and one ZooKeeper, peering
 * with a shared secret; simulated agents spread over them, each the only way to its cluster. Figures:
 * the small GET of bench:tunnel through the replica holding the cluster's tunnel (local) against the same
 * GET through another replica, which relays at the dial level through the holder (relayed), taking turns
 * for BENCH_ROUNDS rounds; virtual connections held by idle exec sessions spread over clusters and
 * replicas, read from each replica's gauge; revocation propagation (a token revoked on A, B and C polled until
 * they refuse); and whether virtual connections and memory come back to idle after the load.
 * Knobs: BENCH_AGENTS (300), BENCH_CONNECTIONS (virtual connections, 3000), BENCH_ROUNDS (5),
 * BENCH_SECONDS (5), BENCH_LOAD_CONNECTIONS (autocannon connections, 32), BENCH_REVOCATIONS (50),
 * BENCH_CYCLES (1: how many times the exec sessions are opened and closed, memory read after each),
 * BENCH_MALLOC_TRIM (0; 1: glibc's malloc_trim(0) in each replica through gdb at the end, memory read again).
 * Progress goes to stderr, the table to stdout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type WebSocket from 'ws';
import { children, median, sleep, stopAll } from './bench-common';
import { measureRevocations } from './replicas-revoke';
import { cycle, cyclesReport, mallocTrim } from './replicas-cycles';
import { replicasReport, type ReplicaFigures } from './replicas-report';
import { openExecs } from './replicas-sessions';
import { startReplicaSystem } from './replicas-setup';
import { load, type LoadResult } from './tunnel-load';

const env = (name: string, dflt: number): number => Number(process.env[name] ?? dflt);
const AGENTS = env('BENCH_AGENTS', 300);
const VCONNS = env('BENCH_CONNECTIONS', 3000);
const ROUNDS = env('BENCH_ROUNDS', 5);
const DURATION = env('BENCH_SECONDS', 5);
const LOAD_CONNECTIONS = env('BENCH_LOAD_CONNECTIONS', 32);
const REVOCATIONS = env('BENCH_REVOCATIONS', 50);
const CYCLES = env('BENCH_CYCLES', 1);
const REPLICAS = 3;
const PATH = '/api/v1/namespaces/default/pods/bench-pod';
const DIST = path.resolve(__dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-rbench-'));
const log = (s: string): boolean => process.stderr.write(`${s}\n`);

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    await sleep(250);
  }
  return (Date.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const sys = await startReplicaSystem(work, DIST, { replicas: REPLICAS, agents: AGENTS, maxInflight: VCONNS * 2 + 200 });
  cleanup = sys.stop;
  const [a, b, c] = sys.replicas as [typeof sys.replicas[0], typeof sys.replicas[0], typeof sys.replicas[0]];
  const f: Partial<ReplicaFigures> = { setup: { agents: AGENTS, vconns: VCONNS, rounds: ROUNDS, seconds: DURATION, loadConnections: LOAD_CONNECTIONS, revocations: REVOCATIONS } };
  f.sessions = await sys.total('bcs_api_tunnel_sessions');
  log(`${AGENTS} agents connected (${f.sessions} tunnel sessions) after ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  // Cluster 0's agent holds its tunnel on A: local through A, relayed through B.
  const held = sys.clusters[0]!;
  const auth = { authorization: `Bearer ${a.admin}` };
  const get = (gw: typeof a) => fetch(`${gw.base}${held.prefix}${PATH}`, { headers: auth }).then((r) => r.status);
  f.relayReady = await until('B relaying to A', async () => (await get(b)) === 200 && (await get(c)) === 200, 30_000);
  const pids = { holder: a.pid, relaying: b.pid, agents: sys.agentPids[0] };
  const contenders = [
    { name: 'local (through the holder, A)', url: `${a.base}${held.prefix}${PATH}` },
    { name: 'relayed (through B, via A)', url: `${b.base}${held.prefix}${PATH}` },
  ];
  for (const x of contenders) await load(x.url, auth, LOAD_CONNECTIONS, 2, {});
  // Idle level: the keep-alive connections of the warm-up closed, everything collected.
  f.drainWarmup = await until('virtual connections idle after the warm-up', async () => (await sys.total('bcs_api_tunnel_connections')) === 0, 150_000);
  f.idle = await Promise.all(sys.replicas.map((r) => r.live()));
  const memory = (): Promise<Awaited<ReturnType<typeof a.memory>>[]> => Promise.all(sys.replicas.map((r) => r.memory()));
  const readings = [await memory()];

  f.perRound = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    // Taking turns, first one then the other, so neither always runs on a warmer or busier machine.
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    const round: LoadResult[] = [];
    for (const i of order) round[i] = await load(contenders[i]!.url, auth, LOAD_CONNECTIONS, DURATION, pids);
    f.perRound.push(round);
    log(`round ${r + 1}: ${round.map((x, i) => `${contenders[i]!.name} ${x.rps.toFixed(0)} req/s`).join(', ')}`);
  }
  f.contenders = contenders.map((x) => x.name);

  // Virtual connections: idle exec sessions spread over the clusters and the three replicas.
  const opening = Date.now();
  const execs = await openExecs(sys.replicas, sys.clusters.map((x) => x.prefix), a.admin, VCONNS);
  const openSeconds = (Date.now() - opening) / 1000;
  await sleep(2000);
  f.vconns = { perReplica: await Promise.all(sys.replicas.map((r) => r.metric('bcs_api_tunnel_connections'))), sessionsOpen: execs.length, openSeconds };
  f.withSessions = await Promise.all(sys.replicas.map((r) => r.live()));
  log(`virtual connections with ${execs.length} exec sessions open (${openSeconds.toFixed(0)} s to open): ${f.vconns.perReplica.join(', ')}`);

  // Revocation: B and C poll a cluster each holds, so the figure is authentication, not relaying.
  const on = (gw: typeof a, i: number) => ({ gw, url: `${gw.base}${sys.clusters[i]!.prefix}${PATH}` });
  f.revocation = await measureRevocations(a, [on(b, 1), on(c, 2)], REVOCATIONS);
  log(`revocations: slowest replica ${f.revocation.slowest.map((x) => x.toFixed(0)).join(' ')} ms`);

  for (const x of execs) x.terminate();
  const stopped = Date.now();
  f.drainSeconds = await until('virtual connections back to idle', async () => (await sys.total('bcs_api_tunnel_connections')) === 0, 150_000).catch(() => undefined);
  f.connsEnd = await Promise.all(sys.replicas.map((r) => r.metric('bcs_api_tunnel_connections')));
  f.inflightEnd = await Promise.all(sys.replicas.map((r) => r.metric('bcs_api_proxy_inflight_requests')));
  f.after = await Promise.all(sys.replicas.map((r) => r.live()));
  f.secondsAfterStop = (Date.now() - stopped) / 1000;
  readings.push(await memory());
  const drained = (): Promise<number> => until('virtual connections back to idle', async () => (await sys.total('bcs_api_tunnel_connections')) === 0, 150_000);
  for (let i = 2; i <= CYCLES; i += 1) {
    const open = (): Promise<WebSocket[]> => openExecs(sys.replicas, sys.clusters.map((x) => x.prefix), a.admin, VCONNS);
    readings.push(await cycle(open, drained, memory, 2000));
    log(`cycle ${i}: RSS ${readings.at(-1)!.map((m) => (m.rssKiB / 1024).toFixed(0)).join(', ')} MiB`);
  }
  f.totalSeconds = (Date.now() - t0) / 1000;
  process.stdout.write(replicasReport(f as ReplicaFigures, median));
  let trimmed;
  if (process.env.BENCH_MALLOC_TRIM === '1') {
    mallocTrim(sys.replicas.map((r) => r.pid));
    trimmed = await memory();
  }
  if (CYCLES > 1 || trimmed) process.stdout.write(cyclesReport(['A', 'B', 'C'], readings, trimmed));
}

let cleanup: () => Promise<void> = async () => undefined;

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    // Gateways and agents first, so dropping the database waits on no open connection.
    for (const ch of children) ch.kill('SIGTERM');
    await sleep(1500);
    await cleanup();
    await stopAll(work);
  });
