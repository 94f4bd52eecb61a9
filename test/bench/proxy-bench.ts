/**
 * `npm run bench:proxy`: one table from one run on this machine. The same small GET at a fixed
 * concurrency, direct to a fake kube-apiserver and through `kubectl proxy`, nginx (if installed) and this
 * gateway; then the resident memory one idle proxied watch costs, measured over 1,000 open watches.
 * Each server runs in its own process; the load generator (autocannon) runs here. The fake apiserver
 * offers HTTP/2 and HTTP/1.1 like kube-apiserver, so `kubectl proxy` and the gateway talk to it as they
 * would to a real one (client-go over h2; the gateway over h2 for watches, HTTP/1.1 for short requests).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { generateCerts } from '../helpers/fake-kube/certs';
import { children, cpuMicros, freePort, median, openWatches, openWatchesWith, rssKiB, sleep, start, stopAll } from './bench-common';
import { collectGarbage } from './collect-garbage';
import { streamTable } from './proxy-stream';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
/**
 * The contenders take turns, ROUNDS times, and each row shows its median round: on a shared 2-CPU
 * machine the throughput of everything drifts by ±20% over a minute, so one long run per contender
 * would mostly compare moments. The ratio to `kubectl proxy` is the median of the per-round ratios.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WATCHES = Number(process.env.BENCH_WATCHES ?? 1000);
/** Watches opened and closed before each memory baseline, so the figure is what a watch holds, not JIT code. */
const WARMUP_WATCHES = 20;
/** h2 sessions the HTTP/2 load is spread over (CONNECTIONS streams in flight in all). */
const H2_SESSIONS = Number(process.env.BENCH_H2_SESSIONS ?? 1);
/**
 * Comma list of parts to run (direct, kubectl, bare, nginx, gateway, watches, tls, h2watches, stream); all by default.
 * For profiling one part. Diagnostics: BENCH_HEAP=1 prints the gateway's heap spaces around the first
 * watch measurement; BENCH_HEAP_SNAPSHOT=1 with BENCH_GATEWAY_NODE_ARGS=--heapsnapshot-signal=SIGUSR2
 * writes heap snapshots there (compare them for what a watch retains). `tls`: the same load through the gateway's TLS listener, over HTTP/1.1 and h2;
 * `h2watches`: idle watches on fresh gateways over the TLS listener, one h2 connection against one
 * HTTP/1.1 TLS connection per watch.
 */
const ONLY = new Set((process.env.BENCH_ONLY ?? 'direct,kubectl,bare,nginx,gateway,watches,tls,h2watches,stream').split(','));
const PATH = '/api/v1/namespaces/default/pods/bench-pod';
const DIST = path.resolve(__dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-bench-'));

interface Row {
  name: string;
  rps?: number;
  p50?: number;
  p99?: number;
  /** CPU microseconds the proxy process spent per request (absent for the direct path). */
  cpu?: number;
  /** CPU microseconds the fake apiserver spent per request: what each way of reaching it costs it. */
  apiCpu?: number;
  note?: string;
}

/** The fake apiserver's process, set once it has started. */
let apiserverPid: number | undefined;

async function load(name: string, url: string, headers: Record<string, string> = {}, seconds = DURATION, pid?: number): Promise<Row> {
  const cpuBefore = pid === undefined ? 0 : cpuMicros(pid);
  const apiBefore = apiserverPid === undefined ? 0 : cpuMicros(apiserverPid);
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  const cpu = pid === undefined ? undefined : (cpuMicros(pid) - cpuBefore) / Math.max(1, r.requests.total);
  const apiCpu = apiserverPid === undefined ? undefined : (cpuMicros(apiserverPid) - apiBefore) / Math.max(1, r.requests.total);
  const errors = r.errors + r.timeouts + (r.non2xx ?? 0);
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpu, apiCpu, note: errors ? `${errors} errors/non-2xx` : undefined };
}

/** A 2 s warm-up, then the measured run. */
async function warmLoad(name: string, url: string, headers: Record<string, string> = {}, pid?: number): Promise<Row> {
  await load(name, url, headers, 2, pid);
  return load(name, url, headers, DURATION, pid);
}

interface Contender {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** The proxy's process, whose CPU time per request is reported. */
  pid?: number;
}

/** Every contender warmed up, then ROUNDS turns each in a fixed order; per contender its median round. */
async function rounds(contenders: Contender[]): Promise<{ rows: Row[]; perRound: Row[][] }> {
  for (const c of contenders) await load(c.name, c.url, c.headers, 2, c.pid);
  const perRound: Row[][] = [];
  for (let i = 0; i < ROUNDS; i += 1) {
    const round: Row[] = [];
    for (const c of contenders) round.push(await load(c.name, c.url, c.headers, DURATION, c.pid));
    perRound.push(round);
  }
  const rows = contenders.map((_c, k) => {
    const all = perRound.map((r) => r[k]!);
    const m = median(all, (r) => r.rps ?? 0);
    const notes = all.map((r) => r.note).filter(Boolean);
    return { ...m, note: notes.length ? notes.join('; ') : undefined };
  });
  return { rows, perRound };
}

/** WATCHES idle watches as streams of one HTTP/2 session, as client-go multiplexes its watches. */
async function openH2Watches(origin: string, ca: string, prefix: string, token: string, n: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(origin, { ca, servername: 'localhost', peerMaxConcurrentStreams: n + 10 });
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  if (session.alpnProtocol !== 'h2') throw new Error(`gateway TLS listener negotiated ${String(session.alpnProtocol)}, not h2`);
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve, reject) => {
        const stream = session.request({ ':path': `${prefix}/api/v1/namespaces/default/pods?watch=1`, authorization: `Bearer ${token}` });
        stream.once('response', (h) => {
          if (h[':status'] !== 200) reject(new Error(`h2 watch answered ${h[':status']}`));
        });
        stream.once('data', () => resolve());
        stream.once('error', reject);
        stream.resume();
      }),
    ),
  );
  return session;
}

/** WATCHES idle watches over HTTP/1.1 to the TLS listener, each on its own TLS connection. */
function openTlsWatches(origin: string, ca: string, prefix: string, token: string, n: number): Promise<http.ClientRequest[]> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: Infinity, ca, servername: 'localhost' });
  return openWatchesWith(https.get, agent, `${origin}${prefix}/api/v1/namespaces/default/pods?watch=1`, token, n);
}

/** The load of `load()` over HTTP/2: CONNECTIONS streams in flight, spread over H2_SESSIONS sessions. */
async function loadH2(name: string, origin: string, ca: string, p: string, token: string): Promise<Row> {
  const run = async (seconds: number): Promise<{ done: number; errors: number; latencies: number[] }> => {
    const sessions = Array.from({ length: H2_SESSIONS }, () => {
      const s = http2.connect(origin, { ca, servername: 'localhost' });
      s.on('error', () => undefined);
      return s;
    });
    const end = Date.now() + seconds * 1000;
    let done = 0;
    let errors = 0;
    const latencies: number[] = [];
    const worker = async (i: number): Promise<void> => {
      const session = sessions[i % sessions.length]!;
      while (Date.now() < end) {
        const t0 = process.hrtime.bigint();
        const status = await new Promise<number>((resolve) => {
          const st = session.request({ ':path': p, authorization: `Bearer ${token}` });
          let code = 0;
          st.once('response', (h) => (code = Number(h[':status'])));
          st.on('data', () => undefined);
          st.once('end', () => resolve(code));
          st.once('error', () => resolve(0));
          st.end();
        });
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (status === 200) done += 1;
        else errors += 1;
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => worker(i)));
    for (const s of sessions) s.close();
    return { done, errors, latencies };
  };
  await run(2);
  const r = await run(DURATION);
  r.latencies.sort((a, b) => a - b);
  const q = (f: number): number => Math.round(r.latencies[Math.min(r.latencies.length - 1, Math.floor(f * r.latencies.length))] ?? 0);
  return { name, rps: r.done / DURATION, p50: q(0.5), p99: q(0.99), note: r.errors ? `${r.errors} errors/non-2xx` : undefined };
}

async function main(): Promise<void> {
  const fakeProc = await start(process.execPath, [path.join(DIST, 'test/bench/fake-process.js')], /^\{.*\}$/m);
  const fake = JSON.parse(fakeProc.match[0]) as { url: string; caPem: string; token: string };
  apiserverPid = fakeProc.child.pid;
  fs.writeFileSync(path.join(work, 'ca.pem'), fake.caPem);
  const kubeconfig = path.join(work, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${fake.url}\n    tls-server-name: kubernetes\n    certificate-authority: ${work}/ca.pem\nusers:\n- name: sa\n  user:\n    token: ${fake.token}\ncontexts:\n- name: fake\n  context: {cluster: fake, user: sa}\ncurrent-context: fake\n`,
  );

  // The gateway, SQLite store, in its own process; the cluster is registered the way an agent would.
  // TLS listener (HTTP/2 and HTTP/1.1 over ALPN) on the main port, plain HTTP/1.1 on loopback.
  const certs = generateCerts();
  fs.writeFileSync(path.join(work, 'gw-cert.pem'), certs.certPem);
  fs.writeFileSync(path.join(work, 'gw-key.pem'), certs.keyPem);
  let gateways = 0;
  type Gateway = { base: string; tlsBase: string; admin: string; prefix: string; pid: number; log: string; stop: () => void };
  // --inspect-port=0: the inspector stays closed until a memory reading asks for a full collection (SIGUSR1).
  const startGateway = async (): Promise<Gateway> => {
    const n = (gateways += 1);
    const plainPort = await freePort();
    fs.writeFileSync(
      path.join(work, `gw${n}.yaml`),
      `data_dir: ${work}/data${n}\naddress: 127.0.0.1\nport: 0\nserver_cert_file: ${work}/gw-cert.pem\nserver_key_file: ${work}/gw-key.pem\ninsecure_port: ${plainPort}\nlog_level: warn\nproxy:\n  max_inflight: ${WATCHES * 2 + 100}\n`,
    );
    const log = path.join(work, `gw${n}.log`);
    const gw = await start(process.execPath, ['--inspect-port=0', ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(DIST, 'src/cli/main.js'), 'serve', '-f', path.join(work, `gw${n}.yaml`)], /(https:\/\/127\.0\.0\.1:\d+)\/graphql/, { BCS_API_LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info' }, log);
    const base = `http://127.0.0.1:${plainPort}`;
    const admin = /(bcs_[A-Za-z0-9]{32})/.exec(gw.output())![1]!;
    const api = async (method: string, p: string, body?: unknown, auth = true): Promise<unknown> => {
      const res = await fetch(`${base}${p}`, { method, headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${admin}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
      return res.json();
    };
    const cluster = (await api('POST', '/rest/clusters/bcs', { id: 'BENCH-K8S-1', project_id: 'bench', cluster_type: 'k8s' })) as { identifier: string };
    const [rtoken] = (await api('POST', '/rest/clusters/BENCH-K8S-1/register_tokens')) as { token: string }[];
    await api('PUT', '/rest/clusters/BENCH-K8S-1/credentials', { register_token: rtoken!.token, server_addresses: fake.url, cacert_data: fake.caPem, user_token: fake.token }, false);
    return { base, tlsBase: gw.match[1]!, admin, prefix: `/tunnels/clusters/${cluster.identifier}`, pid: gw.child.pid!, log, stop: () => gw.child.kill() };
  };
  /** The gateway's resident memory once a full collection has run (what it holds, not garbage pending). */
  const liveRssKiB = async (gw: Gateway): Promise<number> => {
    await collectGarbage(gw.pid, gw.log);
    await sleep(500);
    return rssKiB(gw.pid);
  };
  /** RSS growth per watch over WATCHES idle watches, each on its own HTTP/1.1 client connection. */
  const watchCost = async (gw: Gateway): Promise<{ before: number; after: number }> => {
    const watchBase = `${gw.base}${gw.prefix}`;
    const gwPid = gw.pid;
    // The watch path's code is compiled once per process, not per watch: a few watches first.
    for (const w of await openWatches(watchBase, gw.admin, WARMUP_WATCHES)) w.destroy();
    await sleep(1000);
    const heap = async (): Promise<string> => {
      const text = await (await fetch(`${gw.base}/metrics`)).text();
      return text.split('\n').filter((l) => /^nodejs_heap_space_size_total_bytes|^nodejs_external_memory_bytes|^nodejs_heap_size_used_bytes/.test(l)).map((l) => l.replace(/nodejs_|_bytes/g, '')).join('\n');
    };
    if (process.env.BENCH_HEAP) process.stderr.write(`before:\n${await heap()}\n`);
    if (process.env.BENCH_HEAP_SNAPSHOT) {
      process.kill(gwPid, 'SIGUSR2');
      await sleep(15000);
    }
    const before = await liveRssKiB(gw);
    const watches = await openWatches(watchBase, gw.admin, WATCHES);
    await sleep(3000);
    const after = await liveRssKiB(gw);
    if (process.env.BENCH_HEAP) process.stderr.write(`after:\n${await heap()}\n`);
    if (process.env.BENCH_HEAP_SNAPSHOT) {
      process.kill(gwPid, 'SIGUSR2');
      await sleep(20000);
    }
    for (const w of watches) w.destroy();
    await sleep(1000);
    return { before, after };
  };
  // Twice: on a gateway of its own that has served nothing yet, and on the loaded gateway after the load
  // run. The loaded one opens its inspector only then, so nothing of it is open during the rounds.
  let fresh: { before: number; after: number } | undefined;
  if (ONLY.has('watches')) {
    const gw = await startGateway();
    try {
      fresh = await watchCost(gw);
    } finally {
      gw.stop();
    }
  }
  const gwA = await startGateway();
  const { admin } = gwA;
  const tunnel = `${gwA.base}${gwA.prefix}`;
  const gwPid = gwA.pid;

  // The same small GET through every contender, in turns. The load generator does not verify
  // certificates (autocannon never does); the proxies under test do.
  const contenders: (Contender | Row)[] = [];
  const stopAfterLoad: (() => void)[] = [];
  contenders.push(ONLY.has('direct') ? { name: 'direct to apiserver (TLS)', url: `${fake.url}${PATH}`, headers: { authorization: `Bearer ${fake.token}` } } : { name: 'direct to apiserver (TLS)' });
  if (ONLY.has('kubectl')) {
    const kproxy = await start('kubectl', ['proxy', '--port=0', `--kubeconfig=${kubeconfig}`], /Starting to serve on 127\.0\.0\.1:(\d+)/);
    contenders.push({ name: 'kubectl proxy', url: `http://127.0.0.1:${kproxy.match[1]}${PATH}`, pid: kproxy.child.pid });
    stopAfterLoad.push(() => kproxy.child.kill());
  } else contenders.push({ name: 'kubectl proxy' });
  if (ONLY.has('bare')) {
    const bare = await start(process.execPath, [path.join(DIST, 'test/bench/bare-proxy.js'), fake.url, path.join(work, 'ca.pem'), fake.token], /listening (\d+)/);
    contenders.push({ name: 'bare Node proxy (no auth, identity, audit or metrics: the floor)', url: `http://127.0.0.1:${bare.match[1]}${PATH}`, pid: bare.child.pid });
    stopAfterLoad.push(() => bare.child.kill());
  } else contenders.push({ name: 'bare Node proxy' });
  if (!ONLY.has('nginx')) contenders.push({ name: 'nginx' });
  else if (fs.existsSync('/usr/sbin/nginx')) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const u = new URL(fake.url);
    fs.writeFileSync(
      path.join(work, 'nginx.conf'),
      `daemon off; master_process off; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx.err; events { worker_connections 4096; }
http { access_log off; upstream api { server ${u.host}; keepalive 64; }
 server { listen 127.0.0.1:${port}; location / { proxy_pass https://api; proxy_http_version 1.1; proxy_set_header Connection "";
  proxy_set_header Authorization "Bearer ${fake.token}"; proxy_ssl_verify on; proxy_ssl_trusted_certificate ${work}/ca.pem;
  proxy_ssl_name kubernetes; proxy_ssl_server_name on; proxy_ssl_session_reuse on; proxy_buffering off; } } }\n`,
    );
    const nginx = spawn('/usr/sbin/nginx', ['-c', path.join(work, 'nginx.conf'), '-p', work], { stdio: 'ignore' });
    children.push(nginx);
    await sleep(500);
    contenders.push({ name: 'nginx (nginx-light, 1 worker)', url: `http://127.0.0.1:${port}${PATH}`, pid: nginx.pid });
    stopAfterLoad.push(() => nginx.kill());
  } else contenders.push({ name: 'nginx', note: 'not installed (apt-get install -y nginx-light)' });
  contenders.push(ONLY.has('gateway') ? { name: 'bcs-api tunnel (super user)', url: `${tunnel}${PATH}`, headers: { authorization: `Bearer ${admin}` }, pid: gwPid } : { name: 'bcs-api tunnel (super user)' });

  const runnable = contenders.filter((c): c is Contender => 'url' in c);
  const measured = runnable.length ? await rounds(runnable) : { rows: [], perRound: [] };
  const rows: Row[] = contenders.map((c) => ('url' in c ? measured.rows[runnable.indexOf(c)]! : c));
  for (const stop of stopAfterLoad) stop();
  const ki = runnable.findIndex((c) => c.name === 'kubectl proxy');
  const gi = runnable.findIndex((c) => c.name.startsWith('bcs-api tunnel'));
  const ratios = ki >= 0 && gi >= 0 ? measured.perRound.map((r) => (r[gi]!.rps ?? 0) / (r[ki]!.rps || 1)) : [];
  // What a request costs the two servers on each path, per round: steadier than requests/s, which also
  // depends on how the load generator shares the cores.
  const pathCpu = (r: Row[], i: number): number => (r[i]!.cpu ?? 0) + (r[i]!.apiCpu ?? 0);
  const cpuRatios = ki >= 0 && gi >= 0 ? measured.perRound.map((r) => pathCpu(r, gi) / (pathCpu(r, ki) || 1)) : [];

  if (ONLY.has('tls')) {
    rows.push(await warmLoad('bcs-api tunnel, TLS listener, HTTP/1.1 (super user)', `${gwA.tlsBase}${gwA.prefix}${PATH}`, { authorization: `Bearer ${admin}` }, gwPid));
    try {
      rows.push(await loadH2(`bcs-api tunnel, TLS listener, h2 (${CONNECTIONS} streams over ${H2_SESSIONS} session${H2_SESSIONS > 1 ? 's' : ''})`, gwA.tlsBase, certs.caPem, `${gwA.prefix}${PATH}`, admin));
    } catch (err) {
      rows.push({ name: 'bcs-api tunnel, TLS listener, h2', note: `failed: ${(err as Error).message}` });
    }
  }
  const afterLoad = ONLY.has('watches') ? await watchCost(gwA) : undefined;
  gwA.stop();
  /** The same growth on a gateway of its own that has served nothing, over the TLS listener. */
  const tlsWatchCost = async (how: 'h2' | 'http1'): Promise<{ before: number; after: number } | string> => {
    const gw = await startGateway();
    try {
      if (how === 'h2') (await openH2Watches(gw.tlsBase, certs.caPem, gw.prefix, gw.admin, WARMUP_WATCHES)).destroy();
      else for (const w of await openTlsWatches(gw.tlsBase, certs.caPem, gw.prefix, gw.admin, WARMUP_WATCHES)) w.destroy();
      await sleep(1000);
      const before = await liveRssKiB(gw);
      let close: () => void;
      if (how === 'h2') {
        const session = await openH2Watches(gw.tlsBase, certs.caPem, gw.prefix, gw.admin, WATCHES);
        close = () => session.destroy();
      } else {
        const reqs = await openTlsWatches(gw.tlsBase, certs.caPem, gw.prefix, gw.admin, WATCHES);
        close = () => reqs.forEach((r) => r.destroy());
      }
      await sleep(3000);
      const after = await liveRssKiB(gw);
      close();
      return { before, after };
    } catch (err) {
      return `failed: ${(err as Error).message}`;
    } finally {
      gw.stop();
    }
  };
  const h2Watches = ONLY.has('h2watches') ? await tlsWatchCost('h2') : undefined;
  const tlsH1Watches = ONLY.has('h2watches') ? await tlsWatchCost('http1') : undefined;
  const watchLine = (label: string, m: { before: number; after: number } | undefined): string =>
    m ? `${WATCHES} idle proxied watches (${label}; each on its own HTTP/1.1 client connection, multiplexed upstream over HTTP/2): gateway RSS ${m.before} KiB → ${m.after} KiB, ${((m.after - m.before) / WATCHES).toFixed(1)} KiB per watch (target ≤ 16 KiB)` : `idle watches (${label}): not measured (BENCH_ONLY)`;

  const tlsWatchLine = (label: string, m: { before: number; after: number } | string | undefined): string =>
    typeof m === 'object'
      ? `${WATCHES} idle proxied watches (${label}; multiplexed upstream over HTTP/2): gateway RSS ${m.before} KiB → ${m.after} KiB, ${((m.after - m.before) / WATCHES).toFixed(1)} KiB per watch (target ≤ 16 KiB)`
      : `idle watches (${label}): ${m ?? 'not measured (BENCH_ONLY)'}`;
  const d = rows[0]?.rps ?? 1;
  const fmt = (n: number | undefined, digits = 0): string => (n === undefined ? '-' : n.toFixed(digits));
  const lines = [
    `GET ${PATH} (${CONNECTIONS} connections; each contender warmed up 2s, then ${ROUNDS} rounds of ${DURATION}s taking turns, median round shown; Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown model'}); all processes on this machine)`,
    '',
    '| path | requests/s | p50 ms | p99 ms | vs direct | proxy CPU µs/request | apiserver CPU µs/request |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.rps ? `${((r.rps / d) * 100).toFixed(0)}%` : '-'}${r.note ? ` (${r.note})` : ''} | ${fmt(r.cpu)} | ${fmt(r.apiCpu)} |`),
    '',
    `gateway / kubectl proxy requests/s: ${ratios.length ? `${fmt(median(ratios, (x) => x), 2)}x (median of rounds; each round: ${ratios.map((x) => `${fmt(x, 2)}x`).join(', ')})` : '-'}`,
    `gateway / kubectl proxy CPU per request, proxy + apiserver: ${cpuRatios.length ? `${fmt(median(cpuRatios, (x) => x), 2)}x (median of rounds; each round: ${cpuRatios.map((x) => `${fmt(x, 2)}x`).join(', ')}; below 1 is cheaper)` : '-'}`,
    watchLine('fresh gateway', fresh),
    watchLine('after the load run', afterLoad),
    tlsWatchLine('fresh gateway; all over ONE HTTP/2 client connection to the TLS listener', h2Watches),
    tlsWatchLine('fresh gateway; each on its own HTTP/1.1 TLS client connection to the TLS listener', tlsH1Watches),
  ];
  // Large bodies last, with contenders of their own (proxy-stream.ts), once the small-GET ones are gone.
  if (ONLY.has('stream')) lines.push('', ...(await streamTable(work)));
  process.stdout.write(`${lines.join('\n')}\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll(work));
