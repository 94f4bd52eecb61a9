/**
 * `bcs-api --config=bcs-api.yaml` with the file of the original's deployment docs (blanks filled, the
 * duplicated key kept): each section takes effect in a running gateway, against a real ZooKeeper and a
 * fresh MariaDB database.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createConnection } from 'mysql2/promise';
import { tempDir } from '../helpers/app';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { documentedConfig, lineOf } from '../helpers/documented-config';
import { generateCerts } from '../helpers/fake-kube/certs';
import { rawClient, waitFor, ZooKeeperServer, type RawClient } from '../helpers/zookeeper';

const BIN = path.resolve(__dirname, '../../src/cli/main.js');
const TOKEN = 'documented-admin-token-0123456789';
const LOCAL_IP = '192.0.2.10';
const APISERVER_DIR = '/bcs/services/endpoints/apiserver';

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function request(url: string, opts: { method?: string; token?: string; body?: unknown; ca?: string } = {}): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body ? { 'content-type': 'application/json' } : {}) };
  if (!url.startsWith('https:')) {
    return fetch(url, { method: opts.method, headers, body: opts.body ? JSON.stringify(opts.body) : undefined }).then(async (r) => ({ status: r.status, body: await r.text() }));
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: opts.method ?? 'GET', headers, ca: opts.ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body ? JSON.stringify(opts.body) : undefined);
  });
}

describe("bcs-api started with the original's documented bcs-api.yaml", () => {
  const dir = tempDir('bcs-api-documented-');
  let db: TestDatabase;
  let zk: ZooKeeperServer;
  let zkClient: RawClient | undefined;
  let child: ChildProcess | undefined;
  let stdout = '';
  let content = '';
  let caPem = '';
  const ports = { port: 0, insecure: 0, metric: 0 };

  before(async () => {
    // Certificates first: nothing is spawned once a ZooKeeper client socket exists in this process
    // (the binding's sockets are not close-on-exec; see test/helpers/zookeeper.ts).
    const certs = generateCerts();
    caPem = certs.caPem;
    fs.writeFileSync(path.join(dir, 'ca.crt'), certs.caPem);
    fs.writeFileSync(path.join(dir, 'server.crt'), certs.certPem);
    fs.writeFileSync(path.join(dir, 'server.key'), certs.keyPem);
    fs.writeFileSync(path.join(dir, 'client.crt'), certs.certPem);
    fs.writeFileSync(path.join(dir, 'client.key'), certs.keyPem);
    zk = await ZooKeeperServer.start();
    db = await createTestDatabase('mysql', dir);
    const t = db.config.dialect === 'mysql' ? db.config.target : assert.fail('mysql expected');
    ports.port = await freePort('127.0.0.1');
    ports.metric = await freePort('127.0.0.1');
    ports.insecure = await freePort('127.0.0.2');
    content = documentedConfig({
      // Loopback addresses: TLS and metrics on service_config.address, plain HTTP on a different one, so
      // the test tells which address each listener took.
      address: '127.0.0.1',
      port: ports.port,
      insecureAddress: '127.0.0.2',
      insecurePort: ports.insecure,
      metricPort: ports.metric,
      zookeeper: zk.connectString,
      caFile: 'ca.crt',
      serverCertFile: 'server.crt',
      serverKeyFile: 'server.key',
      clientCertFile: 'client.crt',
      clientKeyFile: 'client.key',
      v: 0,
      localIp: LOCAL_IP,
      subServerFirst: 'perm-old.example:8080',
      subServer: 'perm.example:8080',
      appCode: 'bcs-app',
      appSecret: 'app-secret-value',
      dsn: `${t.user}:${t.password}@tcp(${t.host}:${t.port})/${t.dbName}?charset=utf8mb4&parseTime=True&loc=Local`,
      adminToken: TOKEN,
      consoleProxyPort: await freePort('127.0.0.1'),
    });
    fs.writeFileSync(path.join(dir, 'bcs-api.yaml'), content);

    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BCS_API_')));
    const proc = spawn(process.execPath, [BIN, '--config=bcs-api.yaml'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`bcs-api exited with ${code}: ${stdout}\n${stderr}`))));
    await Promise.race([waitFor('bcs-api listening', () => stdout.includes('"bcs-api listening"'), 60_000, 50), exited]);
    zkClient = await rawClient(zk.connectString);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    zkClient?.close();
    await zk?.dispose();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves TLS REST on service_config.port with the bootstrap user token (cert_config, bootstrap_users)', async () => {
    const created = await request(`https://127.0.0.1:${ports.port}/rest/users/`, { method: 'POST', token: TOKEN, body: { user_name: 'bryanhe' }, ca: caPem });
    assert.equal(created.status, 200, created.body);
    assert.equal((JSON.parse(created.body) as { Name: string }).Name, 'plain:bryanhe');
    await assert.rejects(request(`https://127.0.0.1:${ports.port}/rest/users/bryanhe`, { token: TOKEN }), /certificate/, 'served with the configured certificate');
    assert.equal((await request(`https://127.0.0.1:${ports.port}/rest/users/bryanhe`, { token: 'wrong-token' , ca: caPem })).status, 401);
  });

  it('serves plain REST on insecure_address:insecure_port', async () => {
    const got = await request(`http://127.0.0.2:${ports.insecure}/rest/users/bryanhe`, { token: TOKEN });
    assert.equal(got.status, 200, got.body);
    await assert.rejects(fetch(`http://127.0.0.1:${ports.insecure}/livez`), 'bound on insecure_address only');
  });

  it('serves /metrics on metric_port, bound on service_config.address, and nothing else there', async () => {
    // A tunnel request counted by the main listeners shows on the metrics port: one registry.
    assert.equal((await request(`https://127.0.0.1:${ports.port}/tunnels/clusters/BCS-K8S-00404/version`, { token: TOKEN, ca: caPem })).status, 404);
    const metrics = await request(`http://127.0.0.1:${ports.metric}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^bcs_api_request_count_total\{type="k8s_native",method="GET"\} 1$/m);
    await assert.rejects(fetch(`http://127.0.0.2:${ports.metric}/metrics`), 'not on insecure_address');
    assert.equal((await request(`http://127.0.0.1:${ports.metric}/rest/users/bryanhe`, { token: TOKEN })).status, 404);
    assert.equal((await request(`http://127.0.0.1:${ports.metric}/metrics`, { method: 'POST' })).status, 405);
    assert.equal((await request(`https://127.0.0.1:${ports.port}/metrics`, { ca: caPem })).status, 200, 'still on the main listener by default');
  });

  it('stores users in the MySQL database of core_database.dsn', async () => {
    const t = db.config.dialect === 'mysql' ? db.config.target : assert.fail('mysql expected');
    const conn = await createConnection({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.dbName });
    try {
      const [rows] = await conn.query('SELECT name, is_super_user FROM users ORDER BY name');
      assert.deepEqual((rows as { name: string; is_super_user: number }[]).map((r) => [r.name, Boolean(r.is_super_user)]), [['admin', true], ['plain:bryanhe', false]]);
    } finally {
      await conn.end();
    }
  });

  it('registers under /bcs/services/endpoints/apiserver in zk_config.bcs_zookeeper with local_ip', async () => {
    const nodes = await waitFor('own node', async () => ((await zkClient!.children(APISERVER_DIR)).length ? zkClient!.children(APISERVER_DIR) : undefined), 30_000, 100);
    assert.equal(nodes.length, 1);
    assert.ok(nodes[0]!.includes(LOCAL_IP), nodes[0]);
    const info = JSON.parse((await zkClient!.get(`${APISERVER_DIR}/${nodes[0]}`))!) as Record<string, unknown>;
    assert.equal(info.ip, LOCAL_IP);
    assert.equal(info.port, ports.port);
    assert.equal(info.scheme, 'https');
    assert.equal(info.metric_port, ports.metric);
  });

  it('logs the duplicate key and the unused keys once each', () => {
    const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });
    const first = lineOf(content, 'bkiam_auth_sub_server:', 1);
    const second = lineOf(content, 'bkiam_auth_sub_server:', 2);
    const dup = lines.filter((l) => l.msg.includes('bkiam_auth.bkiam_auth_sub_server is written twice'));
    assert.equal(dup.length, 1);
    assert.match(dup[0]!.msg, new RegExp(`lines ${first} and ${second}\\b`));
    assert.equal(lines.filter((l) => l.msg.includes('accepted without effect')).length, 1);
    assert.equal(lines.filter((l) => l.msg.includes('not known to this gateway')).length, 0);
    assert.ok(!stdout.includes(TOKEN) && !stdout.includes('app-secret-value'), 'secrets are not logged');
  });

  it('stops on SIGTERM with exit 0, its ZooKeeper node going with its session', async () => {
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child!.kill('SIGTERM');
    assert.equal(await exited, 0);
    // Its ephemeral node goes with its session.
    assert.deepEqual(await waitFor('own node removed', async () => ((await zkClient!.children(APISERVER_DIR)).length === 0 ? [] : undefined), 30_000, 100), []);
  });
});
