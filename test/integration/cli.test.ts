import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load';
import { authenticate } from '../../src/domain/auth';
import { createLogger } from '../../src/log';
import { startRuntime } from '../../src/runtime';
import { tempDir } from '../helpers/app';
import { createTestDatabase } from '../helpers/db';

const BIN = path.resolve(__dirname, '../../src/cli/main.js');
const children: ChildProcess[] = [];
after(() => children.forEach((c) => c.kill('SIGKILL')));

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
}

interface Served {
  child: ChildProcess;
  url: string;
  stdout: () => string;
}

/**
 * Starts `bcs-api serve` and resolves once it logs where it listens. Log lines are written in batches; this
 * one, far smaller than a batch, gets out only through the periodic flush, so a broken flush fails here.
 */
function serve(cwd: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd, env: { ...process.env, ...env } });
  children.push(child);
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}\n${err}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"bcs-api listening"')) continue;
        clearTimeout(timer);
        const { urls } = JSON.parse(line) as { urls: string[] };
        // The plain listener when there is one (a first run also serves TLS, listed first).
        resolve({ child, url: urls.find((u) => u.startsWith('http:')) ?? urls[0]!, stdout: () => out });
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}\n${err}`)));
  });
}

async function stop(s: Served): Promise<void> {
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

describe('bcs-api command line', () => {
  it('serves with no configuration: SQLite in ./data, a 0600 key file, and a default admin token printed once', async () => {
    const cwd = tempDir();
    const first = await serve(cwd, { BCS_API_PORT: '0', BCS_API_AUTO_TLS_PORT: '0' });
    const token = /Its API token \(shown only now\):\s+(bcs_[A-Za-z0-9]{32})/.exec(first.stdout())?.[1];
    assert.ok(token, 'token printed');
    assert.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await fetch(`${first.url}/readyz`)).status, 200);
    assert.equal(fs.statSync(path.join(cwd, 'data', 'keyring.json')).mode & 0o777, 0o600);
    assert.ok(fs.existsSync(path.join(cwd, 'data', 'bcs-api.sqlite')));
    // Log lines never carry the token.
    assert.equal(first.stdout().split('\n').filter((l) => l.startsWith('{') && l.includes(token)).length, 0);
    await stop(first);

    const second = await serve(cwd, { BCS_API_PORT: '0', BCS_API_AUTO_TLS_PORT: '0' });
    assert.doesNotMatch(second.stdout(), /shown only now/);
    await stop(second);
    const config = loadConfig({ env: {}, cwd });
    const rt = await startRuntime({ ...config, createDefaultAdmin: false }, createLogger('silent'));
    try {
      assert.equal((await authenticate(rt.context().em, token, new Date())).user.name, 'admin');
    } finally {
      await rt.close();
    }
  });

  it('creates users and issues tokens that authenticate', async () => {
    const cwd = tempDir();
    const created = run(['user', 'create', 'ops', '--super', '--group', 'sre'], cwd);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /created user ops \(id \d+, super user\)/);
    const issued = run(['token', 'issue', 'ops', '--ttl', '3600', '--name', 'ci'], cwd);
    assert.equal(issued.status, 0, issued.stderr);
    const token = issued.stdout.trim();
    assert.match(token, /^bcs_[A-Za-z0-9]{32}$/);
    assert.match(issued.stderr, /expires 20\d\d-/);
    assert.notEqual(run(['token', 'issue', 'nobody'], cwd).status, 0);
    const rt = await startRuntime({ ...loadConfig({ env: {}, cwd }), createDefaultAdmin: false }, createLogger('silent'));
    try {
      const p = await authenticate(rt.context().em, token, new Date());
      assert.equal(p.user.isSuperUser, true);
      assert.deepEqual(p.user.groups, ['sre']);
    } finally {
      await rt.close();
    }
  });

  it('migrates a MariaDB database given by DSN and reports it up to date', async () => {
    const cwd = tempDir();
    const db = await createTestDatabase('mysql', cwd);
    try {
      const t = db.config.dialect === 'mysql' ? db.config.target : undefined!;
      const env = { BCS_API_DSN: `${t.user}:${t.password}@tcp(${t.host}:${t.port})/${t.dbName}?parseTime=True` };
      const up = run(['migrate'], cwd, env);
      assert.equal(up.status, 0, up.stderr);
      assert.match(up.stdout, /applied Migration\d+_initial/);
      assert.match(run(['migrate'], cwd, env).stdout, /nothing to apply/);
      const check = run(['migrate', '--check'], cwd, env);
      assert.equal(check.status, 0, check.stdout + check.stderr);
    } finally {
      await db.drop();
    }
  });

  it('refuses bad configuration with a message naming the key', () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'bad.yaml'), 'core_database:\n  dsn: "nonsense"\nport: -1\n');
    const res = run(['serve', '-f', 'bad.yaml'], cwd);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /core_database\.dsn: is neither/);
    assert.match(res.stderr, /port: /);
  });

  it('serves TLS when a certificate and key are configured', async () => {
    const cwd = tempDir();
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', 'key.pem', '-out', 'cert.pem'], { cwd, encoding: 'utf8' });
    assert.equal(gen.status, 0, `openssl is needed for this test (apt-get install -y openssl): ${gen.stderr}`);
    fs.writeFileSync(path.join(cwd, 'c.yaml'), 'address: 127.0.0.1\nport: 0\nserver_cert_file: cert.pem\nserver_key_file: key.pem\n');
    const s = await serve(cwd, {}, ['-f', 'c.yaml']);
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const status = await new Promise<number>((resolve, reject) => {
      https.get(`${s.url}/livez`, { ca: fs.readFileSync(path.join(cwd, 'cert.pem')) }, (res) => resolve(res.statusCode ?? 0)).on('error', reject);
    });
    assert.equal(status, 200);
    await stop(s);
  });
});
