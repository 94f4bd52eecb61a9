/**
 * `npm run bench:tunnel`: what reaching a cluster through its agent's reverse tunnel costs against
 * dialling it. Two clusters on one gateway share a fake apiserver: one the gateway dials with its
 * reported credential, one whose credential names an address nothing listens on, reached only through
 * the tunnel the real agent (`bcs-api agent --use-websocket`, its own process) holds over the gateway's
 * TLS listener. Figures: the small GET of bench:proxy (requests/s, p50/p99, CPU per request), MiB/s of
 * one large pod log, gateway memory per idle tunnel (200 light agents in another process) and per idle
 * watch through tunnels, and whether virtual connections and memory come back to idle after the load.
 * Knobs: BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_CONNECTIONS (32), BENCH_LOG_MIB (64), BENCH_STREAMS
 * (log bodies per path per round, 2), BENCH_TUNNELS (200), BENCH_WATCHES (1000); BENCH_GATEWAY_NODE_ARGS
 * and BENCH_AGENT_NODE_ARGS (e.g. --cpu-prof) as in bench:proxy. BENCH_ONLY=stream runs only the log
 * streaming, dialled and tunnelled taking turns, and prints the ratio of the medians with CPU and the
 * gateway's garbage collections per MiB (see stream-only.ts). BENCH_ONLY=idle runs only the idle-tunnel
 * readings (over TLS, then over plain http) and prints them; each reading's heap figures go to stderr.
 * An idle reading is a full collection, BENCH_SETTLE_SECONDS (12) of quiet, and another collection.
 * Progress goes to stderr, the table to stdout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateCerts } from '../helpers/fake-kube/certs';
import { cpuMicros, median, openWatches, sleep, start, stopAll } from './bench-common';
import { load, streamOnce, type LoadResult } from './tunnel-load';
import { startGateway, type BenchCluster, type BenchGateway } from './tunnel-gateway';
import { report, type Figures, type IdleTunnels } from './tunnel-report';
import { streamRounds } from './stream-only';

const env = (name: string, dflt: number): number => Number(process.env[name] ?? dflt);
const CONNECTIONS = env('BENCH_CONNECTIONS', 32);
const DURATION = env('BENCH_SECONDS', 5);
const ROUNDS = env('BENCH_ROUNDS', 5);
const TUNNELS = env('BENCH_TUNNELS', 200);
const WATCHES = env('BENCH_WATCHES', 1000);
const LOG_MIB = env('BENCH_LOG_MIB', 64);
/** Log bodies read per contender per round. */
const STREAMS = env('BENCH_STREAMS', 2);
const WARMUP_WATCHES = 20;
const PATH = '/api/v1/namespaces/default/pods/bench-pod';
const DIST = path.resolve(__dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-tbench-'));
const LOG_BYTES = Math.ceil((LOG_MIB * 1024 * 1024) / 100) * 100;
const STREAM_ONLY = process.env.BENCH_ONLY === 'stream';
const IDLE_ONLY = process.env.BENCH_ONLY === 'idle';
/** Quiet time between the collection that frees what dead objects held and an idle reading. */
const SETTLE_MS = env('BENCH_SETTLE_SECONDS', 12) * 1000;

type Fake = { url: string; caPem: string; token: string };

/** Light agents for `clusters` in a process of their own; resolves once all their tunnels are open. */
async function simAgents(gw: BenchGateway, fake: Fake, caPem: string, clusters: BenchCluster[], tag: string, gatewayUrl = gw.tlsBase): Promise<() => void> {
  const cfg = path.join(work, `agents-${tag}.json`);
  fs.writeFileSync(cfg, JSON.stringify({ gatewayUrl, gatewayCa: caPem, address: fake.url, userToken: fake.token, caPem: fake.caPem, clusters: clusters.map((c) => ({ clusterId: c.id, registerToken: c.registerToken })) }));
  const p = await start(process.execPath, [path.join(DIST, 'test/bench/tunnel-agents.js'), cfg], /connected (\d+)/);
  return () => p.child.kill('SIGTERM');
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    await sleep(250);
  }
  return (Date.now() - t0) / 1000;
}

/**
 * RSS once nothing runs: a full collection frees what dead objects held outside the heap (TLS state,
 * buffers), then SETTLE_MS of quiet before the reading (its own collection).
 */
async function idleRss(gw: BenchGateway): Promise<number> {
  await gw.live();
  await sleep(SETTLE_MS);
  const live = await gw.live();
  process.stderr.write(`idle reading: ${JSON.stringify(live)}\n`);
  return live.rssKiB;
}

/** Waits until at least `n` RBAC syncs have run and no more are starting; returns the seconds it took. */
async function syncsSettled(syncs: () => Promise<number>, n: number): Promise<number> {
  let last = -1;
  return until('RBAC syncs of the arriving tunnels', async () => {
    const now = await syncs();
    const done = now >= n && now === last;
    last = now;
    if (!done) await sleep(750);
    return done;
  }, 120_000);
}

/** Gateway memory growth over `n` idle watches spread round-robin over `prefixes`. */
async function watchCost(gw: BenchGateway, prefixes: string[], n: number): Promise<{ before: number; after: number; conns: number }> {
  const open = async (count: number) => (await Promise.all(prefixes.map((p, i) => openWatches(`${gw.base}${p}`, gw.admin, Math.floor(count / prefixes.length) + (i < count % prefixes.length ? 1 : 0))))).flat();
  for (const w of await open(WARMUP_WATCHES)) w.destroy();
  await sleep(1000);
  const before = (await gw.live()).rssKiB;
  const watches = await open(n);
  await sleep(3000);
  const after = (await gw.live()).rssKiB;
  const conns = await gw.metric('bcs_api_tunnel_connections');
  for (const w of watches) w.destroy();
  await sleep(1000);
  return { before, after, conns };
}

async function main(): Promise<void> {
  const fakeProc = await start(process.execPath, [path.join(DIST, 'test/bench/fake-process.js'), '--log-mib', String(LOG_MIB)], /^\{.*\}$/m);
  const fake = JSON.parse(fakeProc.match[0]) as Fake;
  const certs = generateCerts();
  fs.writeFileSync(path.join(work, 'gw-cert.pem'), certs.certPem);
  fs.writeFileSync(path.join(work, 'gw-key.pem'), certs.keyPem);
  const gw = await startGateway(work, DIST, WATCHES * 2 + 200);
  const creds = { caPem: fake.caPem, token: fake.token };
  const dialled = await gw.cluster('BENCH-K8S-DIAL', { server: fake.url, ...creds });
  // Nothing listens on port 1: without its tunnel this cluster cannot be reached.
  const tunnelled = await gw.cluster('BENCH-K8S-TUNNEL', { server: 'https://127.0.0.1:1', ...creds });
  const sims: BenchCluster[] = [];
  for (let i = 1; i <= (STREAM_ONLY ? 0 : TUNNELS); i += 1) sims.push(await gw.cluster(`BENCH-K8S-SIM${i}`));
  const sessions = () => gw.metric('bcs_api_tunnel_sessions');
  const conns = () => gw.metric('bcs_api_tunnel_connections');
  const f: Partial<Figures> = {};

  if (!STREAM_ONLY) {
  // Idle tunnels: a few connected and closed first, so the figure is what a tunnel holds, not code compiled for the first.
  const syncs = () => gw.metric('bcs_api_rbac_syncs_total');
  const syncsW = await syncs();
  const warmSims = await simAgents(gw, fake, certs.caPem, sims.slice(0, 10), 'warmup');
  await syncsSettled(syncs, syncsW + 10);
  warmSims();
  await until('warm-up tunnels closed', async () => (await sessions()) === 0, 20_000);
  // Memory of TUNNELS idle tunnels opened at `url`; each arriving tunnel has its cluster's RBAC synced
  // through it, so idle is once those syncs are over.
  const idleTunnels = async (url: string, tag: string): Promise<{ cost: IdleTunnels; stop: () => void }> => {
    const before = await idleRss(gw);
    const syncs0 = await syncs();
    const stop = await simAgents(gw, fake, certs.caPem, sims, tag, url);
    await sleep(3000);
    const busy = (await gw.live()).rssKiB;
    const syncSeconds = await syncsSettled(syncs, syncs0 + TUNNELS);
    const after = await idleRss(gw);
    const cost = { n: TUNNELS, before, after, busy, syncs: (await syncs()) - syncs0, syncSeconds, settleSeconds: SETTLE_MS / 1000, sessions: await sessions() };
    process.stderr.write(`idle tunnels (${tag}): ${JSON.stringify(cost)}\n`);
    return { cost, stop };
  };
  const { cost, stop: stopSims } = await idleTunnels(gw.tlsBase, 'idle');
  f.tunnels = cost;

  if (!IDLE_ONLY) {
    // Idle watches through those tunnels, then the same number on the dialled cluster.
    f.tunnelWatches = { n: WATCHES, ...(await watchCost(gw, sims.map((s) => s.prefix), WATCHES)) };
    process.stderr.write(`watches through tunnels: ${JSON.stringify(f.tunnelWatches)}\n`);
    f.dialledWatches = { n: WATCHES, ...(await watchCost(gw, [dialled.prefix], WATCHES)) };
    process.stderr.write(`watches dialled: ${JSON.stringify(f.dialledWatches)}\n`);
  }
  stopSims();
  await until('light agents gone', async () => (await sessions()) === 0, 30_000);
  // The same agents over the plain listener: what the gateway's own code keeps per tunnel, without TLS.
  const plain = await idleTunnels(gw.base, 'plain');
  f.plainTunnels = plain.cost;
  plain.stop();
  await until('plain light agents gone', async () => (await sessions()) === 0, 30_000);
  if (IDLE_ONLY) {
    const per = (c: IdleTunnels): string => ((c.after - c.before) / c.n).toFixed(1);
    process.stdout.write(`gateway RSS per idle tunnel (${TUNNELS} light agents): over TLS ${per(cost)} KiB, over plain http ${per(plain.cost)} KiB\n`);
    return;
  }
  }

  // The real agent, as a pod runs it, for the tunnelled cluster.
  const get = (c: BenchCluster) => fetch(`${gw.base}${c.prefix}${PATH}`, { headers: { authorization: `Bearer ${gw.admin}` } }).then((r) => r.status);
  const noTunnel = await get(tunnelled);
  if (noTunnel === 200) throw new Error('the tunnelled cluster answered without a tunnel');
  const saDir = fs.mkdtempSync(path.join(work, 'sa-'));
  fs.writeFileSync(path.join(saDir, 'token'), fake.token);
  fs.writeFileSync(path.join(saDir, 'ca.crt'), fake.caPem);
  const agentEnv = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(fake.url).port, BCS_AGENT_SERVICEACCOUNT_DIR: saDir, REGISTER_TOKEN: tunnelled.registerToken, SERVER_CERT: certs.caPem };
  const agentArgs = [path.join(DIST, 'src/cli/main.js'), 'agent', '--listen-addr', '127.0.0.1:0', '--bke-address', gw.tlsBase, '--cluster-id', tunnelled.id, '--use-websocket', '--give-up-after', '0'];
  const agentNodeArgs = (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const agent = await start(process.execPath, [...agentNodeArgs, ...agentArgs], /tunnel connected/, agentEnv, path.join(work, 'agent.log'));
  await until('tunnelled cluster served', async () => (await get(tunnelled)) === 200, 20_000);
  const bytesBefore = await gw.metric('bcs_api_tunnel_bytes_total');

  const pids: Record<string, number | undefined> = { gateway: gw.pid, agent: agent.child.pid, apiserver: fakeProc.child.pid };
  const auth = { authorization: `Bearer ${gw.admin}` };
  const contenders = [
    { name: 'direct to apiserver (TLS)', url: `${fake.url}${PATH}`, headers: { authorization: `Bearer ${fake.token}` }, logUrl: `${fake.url}${PATH}/log`, token: fake.token, ca: fake.caPem },
    { name: 'gateway, dialled cluster', url: `${gw.base}${dialled.prefix}${PATH}`, headers: auth, logUrl: `${gw.base}${dialled.prefix}${PATH}/log`, token: gw.admin },
    { name: 'gateway, through the agent tunnel', url: `${gw.base}${tunnelled.prefix}${PATH}`, headers: auth, logUrl: `${gw.base}${tunnelled.prefix}${PATH}/log`, token: gw.admin },
  ];
  // Warm-up of every path, then the idle level the load must come back to.
  for (const c of contenders) {
    await load(c.url, c.headers, CONNECTIONS, 2, {});
    await streamOnce(c.logUrl, c.token, LOG_BYTES, c.ca);
  }
  if (STREAM_ONLY) {
    // A second agent with --gateway-tls, as the original agent works: the gateway runs the apiserver's TLS over the tunnel.
    const innerTls = await gw.cluster('BENCH-K8S-GWTLS', { server: 'https://127.0.0.1:1', ...creds });
    const agent2 = await start(process.execPath, [...agentNodeArgs, ...agentArgs.map((a) => (a === tunnelled.id ? innerTls.id : a)), '--gateway-tls'], /tunnel connected/, { ...agentEnv, REGISTER_TOKEN: innerTls.registerToken }, path.join(work, 'agent2.log'));
    await until('cluster of the --gateway-tls agent served', async () => (await get(innerTls)) === 200, 20_000);
    pids['agent (--gateway-tls)'] = agent2.child.pid;
    const inner = { name: 'gateway, through the agent tunnel, TLS by the gateway (--gateway-tls)', url: '', headers: auth, logUrl: `${gw.base}${innerTls.prefix}${PATH}/log`, token: gw.admin };
    await streamOnce(inner.logUrl, inner.token, LOG_BYTES);
    contenders.push(inner);
    const gatewayGc = async () => ({ count: await gw.metric('nodejs_gc_duration_seconds_count'), seconds: await gw.metric('nodejs_gc_duration_seconds_sum') });
    process.stdout.write(await streamRounds(contenders, pids, gatewayGc, { rounds: ROUNDS, streams: STREAMS, logBytes: LOG_BYTES }));
    return;
  }
  const idleConns = 0;
  f.drainWarmup = await until('virtual connections idle after the warm-up', async () => (await conns()) === idleConns, 150_000);
  const idle = await gw.live();

  const perRound: LoadResult[][] = [];
  const streams: number[][] = [];
  const streamCpu: Record<string, number>[][] = [];
  let connsAfterLoad = 0;
  for (let r = 0; r < ROUNDS; r += 1) {
    const round: LoadResult[] = [];
    for (const c of contenders) round.push(await load(c.url, c.headers, CONNECTIONS, DURATION, pids));
    connsAfterLoad = Math.max(connsAfterLoad, await conns());
    const mibs: number[] = [];
    const cpu: Record<string, number>[] = [];
    for (const c of contenders) {
      const named = Object.entries(pids).filter((e): e is [string, number] => e[1] !== undefined);
      const before = named.map(([, pid]) => cpuMicros(pid));
      const t = process.hrtime.bigint();
      for (let i = 0; i < STREAMS; i += 1) await streamOnce(c.logUrl, c.token, LOG_BYTES, c.ca);
      const mib = (STREAMS * LOG_BYTES) / 1048576;
      mibs.push(mib / (Number(process.hrtime.bigint() - t) / 1e9));
      // CPU ms per MiB streamed, by process.
      cpu.push(Object.fromEntries(named.map(([name, pid], k) => [name, (cpuMicros(pid) - before[k]!) / 1000 / mib])));
    }
    perRound.push(round);
    streams.push(mibs);
    streamCpu.push(cpu);
    process.stderr.write(`round ${r + 1}: ${round.map((x, i) => `${contenders[i]!.name} ${x.rps.toFixed(0)} req/s`).join(', ')}; MiB/s ${mibs.map((x) => x.toFixed(0)).join(', ')}\n`);
  }
  f.tunnelBytes = (await gw.metric('bcs_api_tunnel_bytes_total')) - bytesBefore;
  const stopped = Date.now();
  f.connsAfterLoad = connsAfterLoad;
  f.drainSeconds = await until('virtual connections back to idle', async () => (await conns()) === idleConns, 150_000).catch(() => undefined);
  f.connsEnd = await conns();
  const after = await gw.live();
  f.idle = { conns: idleConns, ...idle };
  f.afterLoad = { ...after, secondsAfterStop: (Date.now() - stopped) / 1000 };
  f.contenders = contenders.map((c) => c.name);
  f.perRound = perRound;
  f.streams = streams;
  f.streamCpu = streamCpu;
  f.setup = { connections: CONNECTIONS, duration: DURATION, rounds: ROUNDS, logMiB: LOG_MIB, streams: STREAMS };
  process.stdout.write(report(f as Figures, median));
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll(work));
