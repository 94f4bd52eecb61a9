/**
 * bench:graphql: the gateway's GraphQL read path beside a bare Apollo Server 5 answering the same
 * operations from memory, on SQLite and on MariaDB. Each server runs in its own process; autocannon
 * (8 connections) runs here, the contenders alternating in rounds; per contender the median round.
 * Printed per operation: req/s, p50/p99 (ms), CPU µs per request of the server process, the ratio to
 * the bare floor, and the SQL statements and ORM entities one request costs (measured after the load).
 *
 * BENCH_SECONDS (5) per round, BENCH_ROUNDS (3), BENCH_DIALECTS (sqlite,mysql).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import autocannon from 'autocannon';
import { cpuMicros, median } from './bench-common';
import { scenarios, type Footprint, type Ready, type Scenario } from './graphql-queries';

const CONNECTIONS = 8;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DIALECTS = (process.env.BENCH_DIALECTS ?? 'sqlite,mysql').split(',');

interface Proc {
  child: ChildProcess;
  ready: Ready;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  cpu: number;
  errors: number;
}

function startChild(file: string, args: string[]): Promise<Proc> {
  const child = fork(path.join(__dirname, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${file} exited ${code}`)));
    child.on('message', (msg: { ready?: Ready }) => msg.ready && resolve({ child, ready: msg.ready }));
  });
}

function stopChild(p: Proc): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
    p.child.removeAllListeners('exit');
    p.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    p.child.send({ stop: true });
  });
}

function footprint(p: Proc, query: string): Promise<Footprint> {
  return new Promise((resolve) => {
    const onMessage = (msg: { footprint?: Footprint }): void => {
      if (!msg.footprint) return;
      p.child.off('message', onMessage);
      resolve(msg.footprint);
    };
    p.child.on('message', onMessage);
    p.child.send({ footprint: query });
  });
}

async function load(p: Proc, query: string, seconds: number): Promise<Run> {
  const pid = p.child.pid!;
  const before = cpuMicros(pid);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${p.ready.token}` };
  const r = await autocannon({ url: p.ready.url, method: 'POST', headers, body: JSON.stringify({ query }), connections: CONNECTIONS, duration: seconds });
  const cpu = (cpuMicros(pid) - before) / Math.max(1, r.requests.total);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpu, errors: r.errors + r.timeouts + (r.non2xx ?? 0) };
}

/** One request on an idle server: what a single page costs, without queueing behind 7 others. */
async function single(p: Proc, query: string, n = 30): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const t0 = performance.now();
    const res = await fetch(p.ready.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${p.ready.token}` }, body: JSON.stringify({ query }) });
    await res.text();
    times.push(performance.now() - t0);
  }
  return median(times, (x) => x);
}

async function firstErrors(p: Proc, query: string): Promise<string | undefined> {
  const res = await fetch(p.ready.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${p.ready.token}` }, body: JSON.stringify({ query }) });
  const body = (await res.json()) as { errors?: { message: string }[] };
  return body.errors?.[0]?.message;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function benchDialect(dialect: string): Promise<string[]> {
  const [gateway, bare] = await Promise.all([startChild('graphql-gateway.js', [dialect]), startChild('graphql-bare.js', [])]);
  const rows: string[] = [];
  try {
    for (const s of scenarios(gateway.ready.userId)) rows.push(...(await benchScenario(dialect, s, gateway, bare)));
  } finally {
    await Promise.all([stopChild(gateway), stopChild(bare)]);
  }
  return rows;
}

async function benchScenario(dialect: string, s: Scenario, gateway: Proc, bare: Proc): Promise<string[]> {
  const refused = await firstErrors(gateway, s.query);
  if (refused) return [`| ${dialect} | ${s.name} | refused: ${refused} | | | | | | | |`];
  const contenders = [bare, gateway];
  for (const c of contenders) await load(c, s.query, 1);
  const runs: Run[][] = contenders.map(() => []);
  for (let i = 0; i < ROUNDS; i += 1) for (const [k, c] of contenders.entries()) runs[k]!.push(await load(c, s.query, SECONDS));
  const [b, g] = runs.map((r) => median(r, (x) => x.rps));
  const [bSingle, gSingle] = [await single(bare, s.query), await single(gateway, s.query)];
  const fp = await footprint(gateway, s.query);
  const errors = runs.flat().reduce((n, r) => n + r.errors, 0);
  const line = (name: string, r: Run, one: number, ratio: string, sql: string): string =>
    `| ${dialect} | ${s.name} | ${name} | ${fmt(r.rps)} | ${fmt(r.p50)} / ${fmt(r.p99)} | ${fmt(one, 1)} | ${fmt(r.cpu)} | ${ratio} | ${sql} |`;
  const out = [line('bare Apollo', b!, bSingle, '1', ''), line('gateway', g!, gSingle, `${fmt(g!.rps / b!.rps, 2)}x`, `${fp.statements} / ${fp.entities}`)];
  if (errors) out.push(`| ${dialect} | ${s.name} | ${errors} errors or non-2xx answers | | | | | | |`);
  return out;
}

async function main(): Promise<void> {
  console.log(`bench:graphql: ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per contender (medians), dialects ${DIALECTS.join(', ')}`);
  const rows: string[] = [];
  for (const d of DIALECTS) rows.push(...(await benchDialect(d)));
  console.log('\n| store | operation | server | req/s | p50 / p99 ms (8 conns) | single ms | CPU µs/req | vs bare | SQL / entities per req |');
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
