/**
 * `npm run bench:proxy`: one table from one run on this machine. The same small GET at a fixed
 * concurrency, direct to a fake kube-apiserver and through `kubectl proxy`, nginx (if installed) and this
 * gateway; then the resident memory one idle proxied watch costs, measured over 1,000 open watches.
 * Each server runs in its own process; the load generator (autocannon) runs here. The fake apiserver
 * offers HTTP/2 and HTTP/1.1 like kube-apiserver, so `kubectl proxy` and the gateway talk to it as they
 * would to a real one (client-go over h2; the gateway over h2 for watches, HTTP/1.1 for short requests).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateCerts } from '../helpers/fake-kube/certs';
import { children, freePort, median, openWatches, registerBenchCluster, rssKiB, sleep, start, stopAll } from './bench-common';
import { collectGarbage } from './collect-garbage';
import { apiserver, DURATION, ROUNDS, rounds, warmLoad, type Contender, type Measured, type Row } from './proxy-rounds';
import { GATEWAY, gatewayWorkers, NGINX, smallGetTable, targetLines } from './proxy-table';
import { workersRevocation } from './workers-revoke';
import { loadH2, openH2Watches, openTlsWatches } from './proxy-h2';
import { streamTable } from './proxy-stream';

/**
 * Concurrencies of the small-GET rounds (comma list): each gets its own table. The TLS and h2 rows use
 * the first.
 */
const CONCURRENCIES = (process.env.BENCH_CONNECTIONS ?? '32,256').split(',').map(Number);
const CONNECTIONS = CONCURRENCIES[0]!;
/** Workers of the second gateway (`proxy.workers`): the cores this process may use, unless set. */
const CORES = Number(process.env.BENCH_WORKERS ?? os.availableParallelism());
const WATCHES = Number(process.env.BENCH_WATCHES ?? 1000);
/** Watches opened and closed before each memory baseline, so the figure is what a watch holds, not JIT code. */
const WARMUP_WATCHES = 20;
/** h2 sessions the HTTP/2 load is spread over (CONNECTIONS streams in flight in all). */
const H2_SESSIONS = Number(process.env.BENCH_H2_SESSIONS ?? 1);
/**
 * Comma list of parts to run (direct, kubectl, bare, nginx, gateway, workers, watches, tls, h2watches, stream);
 * all by default. For profiling one part. Diagnostics: BENCH_HEAP=1 prints the gateway's heap spaces
 * around the first watch measurement; BENCH_HEAP_SNAPSHOT=1 with BENCH_GATEWAY_NODE_ARGS=--heapsnapshot-signal=SIGUSR2
 * writes heap snapshots there (compare them for what a watch retains). `tls`: the same load through the gateway's TLS listener, over HTTP/1.1 and h2;
 * `h2watches`: idle watches on fresh gateways over the TLS listener, one h2 connection against one
 * HTTP/1.1 TLS connection per watch; `workers`: a gateway with `proxy.workers: BENCH_WORKERS` (default
 * the cores) in the rounds, and its revocation time.
 */
const ONLY = new Set((process.env.BENCH_ONLY ?? 'direct,kubectl,bare,nginx,gateway,workers,watches,tls,h2watches,stream').split(','));
const PATH = '/api/v1/namespaces/default/pods/bench-pod';
const DIST = path.resolve(__dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-bench-'));

/** nginx-light from Debian when missing and this runs as root; else how to get it. */
function ensureNginx(): string | undefined {
  if (fs.existsSync('/usr/sbin/nginx')) return undefined;
  if (process.getuid?.() !== 0) return 'not installed (sudo apt-get install -y nginx-light)';
  process.stderr.write('nginx missing: apt-get install -y nginx-light\n');
  const r = spawnSync('sh', ['-c', 'apt-get install -y nginx-light || (apt-get update && apt-get install -y nginx-light)'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return r.status === 0 && fs.existsSync('/usr/sbin/nginx') ? undefined : 'not installed, and apt-get install -y nginx-light failed';
}

async function main(): Promise<void> {
  const fakeProc = await start(process.execPath, [path.join(DIST, 'test/bench/fake-process.js')], /^\{.*\}$/m);
  const fake = JSON.parse(fakeProc.match[0]) as { url: string; caPem: string; token: string };
  apiserver.pid = fakeProc.child.pid;
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
  const startGateway = async (workers = 1): Promise<Gateway> => {
    const n = (gateways += 1);
    const plainPort = await freePort();
    fs.writeFileSync(
      path.join(work, `gw${n}.yaml`),
      `data_dir: ${work}/data${n}\naddress: 127.0.0.1\nport: 0\nserver_cert_file: ${work}/gw-cert.pem\nserver_key_file: ${work}/gw-key.pem\ninsecure_port: ${plainPort}\nlog_level: warn\nproxy:\n  max_inflight: ${WATCHES * 2 + 100}\n  workers: ${workers}\n`,
    );
    const log = path.join(work, `gw${n}.log`);
    const gw = await start(process.execPath, [...(workers > 1 ? [] : ['--inspect-port=0']), ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(DIST, 'src/cli/main.js'), 'serve', '-f', path.join(work, `gw${n}.yaml`)], workers > 1 ? /(https:\/\/127\.0\.0\.1:\d+)\/graphql[\s\S]*"bcs-api workers listening"/ : /(https:\/\/127\.0\.0\.1:\d+)\/graphql/, { BCS_API_LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info' }, log, 30_000 * workers);
    const base = `http://127.0.0.1:${plainPort}`;
    const admin = /(bcs_[A-Za-z0-9]{32})/.exec(gw.output())![1]!;
    const prefix = await registerBenchCluster(base, admin, fake);
    return { base, tlsBase: gw.match[1]!, admin, prefix, pid: gw.child.pid!, log, stop: () => gw.child.kill() };
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
  const nginxMissing = ONLY.has('nginx') ? ensureNginx() : undefined;
  if (!ONLY.has('nginx')) contenders.push({ name: NGINX });
  else if (!nginxMissing) {
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
    contenders.push({ name: NGINX, url: `http://127.0.0.1:${port}${PATH}`, pid: nginx.pid });
    stopAfterLoad.push(() => nginx.kill());
  } else contenders.push({ name: NGINX, note: nginxMissing });
  contenders.push(ONLY.has('gateway') ? { name: GATEWAY, url: `${tunnel}${PATH}`, headers: { authorization: `Bearer ${admin}` }, pid: gwPid, metricsBase: gwA.base } : { name: GATEWAY });
  // The same gateway in CORES worker processes sharing its ports (its CPU is the primary's and the workers').
  const gwW = ONLY.has('workers') && CORES > 1 ? await startGateway(CORES) : undefined;
  if (gwW) {
    contenders.push({ name: gatewayWorkers(CORES), url: `${gwW.base}${gwW.prefix}${PATH}`, headers: { authorization: `Bearer ${gwW.admin}` }, pid: gwW.pid, metricsBase: gwW.base, warmup: 4 * CORES });
    stopAfterLoad.push(() => gwW.stop());
  } else contenders.push({ name: gatewayWorkers(CORES), note: CORES > 1 ? 'not measured (BENCH_ONLY)' : 'one core: no workers to add' });

  const runnable = contenders.filter((c): c is Contender => 'url' in c);
  const tables: Measured[] = [];
  for (const connections of CONCURRENCIES) tables.push(runnable.length ? await rounds(runnable, connections) : { connections, rows: [], perRound: [] });
  const rowsAt = (m: Measured): Row[] => contenders.map((c) => ('url' in c ? m.rows[runnable.indexOf(c)]! : c));
  const measured = tables[0]!;
  const rows = rowsAt(measured);
  const revocationMs = gwW ? await workersRevocation(gwW.base, gwW.admin, `${gwW.base}${gwW.prefix}${PATH}`, CORES) : [];
  for (const stop of stopAfterLoad) stop();
  const ki = runnable.findIndex((c) => c.name === 'kubectl proxy');
  const gi = runnable.findIndex((c) => c.name === GATEWAY);
  const ratios = ki >= 0 && gi >= 0 ? measured.perRound.map((r) => (r[gi]!.rps ?? 0) / (r[ki]!.rps || 1)) : [];
  // What a request costs the two servers on each path, per round: steadier than requests/s, which also
  // depends on how the load generator shares the cores.
  const pathCpu = (r: Row[], i: number): number => (r[i]!.cpu ?? 0) + (r[i]!.apiCpu ?? 0);
  const cpuRatios = ki >= 0 && gi >= 0 ? measured.perRound.map((r) => pathCpu(r, gi) / (pathCpu(r, ki) || 1)) : [];

  if (ONLY.has('tls')) {
    rows.push(await warmLoad({ name: 'bcs-api tunnel, TLS listener, HTTP/1.1 (super user)', url: `${gwA.tlsBase}${gwA.prefix}${PATH}`, headers: { authorization: `Bearer ${admin}` }, pid: gwPid, metricsBase: gwA.base }, CONNECTIONS));
    try {
      rows.push(await loadH2(`bcs-api tunnel, TLS listener, h2 (${CONNECTIONS} streams over ${H2_SESSIONS} session${H2_SESSIONS > 1 ? 's' : ''})`, gwA.tlsBase, certs.caPem, `${gwA.prefix}${PATH}`, admin, CONNECTIONS, H2_SESSIONS));
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
  const fmt = (n: number | undefined, digits = 0): string => (n === undefined ? '-' : n.toFixed(digits));
  const kib = (m: { before: number; after: number } | string | undefined): number[] => (typeof m === 'object' ? [(m.after - m.before) / WATCHES] : []);
  const header = (c: number): string =>
    `GET ${PATH} (${c} connections; each contender warmed up 2s, then ${ROUNDS} rounds of ${DURATION}s taking turns; requests/s and CPU from the median round, p50 and p99 medians of the rounds; Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown model'}), load average ${os.loadavg()[0]!.toFixed(1)} at the end; all processes on this machine)`;
  const lines = [
    header(CONNECTIONS),
    '',
    ...smallGetTable(measured, rows),
    '',
    `gateway / kubectl proxy requests/s: ${ratios.length ? `${fmt(median(ratios, (x) => x), 2)}x (median of rounds; each round: ${ratios.map((x) => `${fmt(x, 2)}x`).join(', ')})` : '-'}`,
    `gateway / kubectl proxy CPU per request, proxy + apiserver: ${cpuRatios.length ? `${fmt(median(cpuRatios, (x) => x), 2)}x (median of rounds; each round: ${cpuRatios.map((x) => `${fmt(x, 2)}x`).join(', ')}; below 1 is cheaper)` : '-'}`,
    ...tables.slice(1).flatMap((m) => ['', header(m.connections), '', ...smallGetTable(m, rowsAt(m))]),
    '',
    watchLine('fresh gateway', fresh),
    watchLine('after the load run', afterLoad),
    tlsWatchLine('fresh gateway; all over ONE HTTP/2 client connection to the TLS listener', h2Watches),
    tlsWatchLine('fresh gateway; each on its own HTTP/1.1 TLS client connection to the TLS listener', tlsH1Watches),
    `revoked token refused by every worker of the ${CORES}-worker gateway after (ms, from the revoke call): ${revocationMs.length ? revocationMs.map((x) => x.toFixed(0)).join(', ') : 'not measured'}`,
    '',
    `Targets against ${NGINX}; the gateway with ${CORES} workers is judged at this machine's core count:`,
    '',
    ...targetLines({ tables, cores: CORES, watchKiB: [...kib(fresh), ...kib(afterLoad), ...kib(h2Watches)], revocationMs }),
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
