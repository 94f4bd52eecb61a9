/**
 * The commands that take a newcomer from `npm start` to kubectl: `cluster create`, `cluster credentials`
 * and `kubeconfig`, on the same configuration and database as `serve`, with errors that name the problem.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load';
import { authenticate } from '../../src/domain/auth';
import { readClusterSecrets } from '../../src/domain/credentials';
import { readRegisterToken } from '../../src/domain/register-tokens';
import { createLogger } from '../../src/log';
import { startRuntime } from '../../src/runtime';
import { tempDir } from '../helpers/app';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../helpers/db';
import { generateCerts } from '../helpers/fake-kube/certs';

const BIN = path.resolve(__dirname, '../../src/cli/main.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function dsnEnv(db: TestDatabase): NodeJS.ProcessEnv {
  if (db.config.dialect !== 'mysql') return {};
  const t = db.config.target;
  return { BCS_API_DSN: `mysql://${t.user}${t.password ? `:${t.password}` : ''}@${t.host}:${t.port}/${t.dbName}` };
}

for (const dialect of DIALECTS) {
  describe(`bcs-api cluster and kubeconfig commands on ${dialect}`, () => {
    let cwd: string;
    let db: TestDatabase;
    let env: NodeJS.ProcessEnv;
    let registerToken: string;
    const apiserver = generateCerts();
    const run = (...args: string[]) => cli(args, cwd, env);
    const withRuntime = async <T>(fn: (rt: Awaited<ReturnType<typeof startRuntime>>) => Promise<T>): Promise<T> => {
      const rt = await startRuntime({ ...loadConfig({ env, cwd }), createDefaultAdmin: false }, createLogger('silent'));
      try {
        return await fn(rt);
      } finally {
        await rt.close();
      }
    };

    before(async () => {
      cwd = tempDir('bcs-api-cli-cluster-');
      db = await createTestDatabase(dialect, cwd);
      env = dsnEnv(db);
      fs.writeFileSync(path.join(cwd, 'ca.pem'), apiserver.caPem);
      fs.writeFileSync(path.join(cwd, 'sa.token'), 'sa-token-value\n');
      fs.writeFileSync(path.join(cwd, 'not-a-cert.pem'), 'hello\n');
    });
    after(async () => {
      await db?.drop();
      if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
    });

    it('cluster create prints the cluster and a register token, and refuses a duplicate', async () => {
      const created = await run('cluster', 'create', 'BCS-K8S-60001', '--project', 'p1', '--type', 'k8s');
      assert.equal(created.status, 0, created.stderr);
      assert.match(created.stdout, /^created cluster BCS-K8S-60001 \(type k8s, project p1\), reached through the gateway at \/tunnels\/clusters\/bcs-k8s-60001-[a-z0-9]{16}$/m);
      registerToken = /shown only now[^\n]*\n\n {4}([A-Za-z0-9]{128})\n/.exec(created.stdout)?.[1] ?? '';
      assert.ok(registerToken, created.stdout);
      assert.equal(await withRuntime(async (rt) => (await readRegisterToken(rt.context(), undefined, 'BCS-K8S-60001')).secret), registerToken);
      const again = await run('cluster', 'create', 'BCS-K8S-60001');
      assert.equal(again.status, 1);
      assert.match(again.stderr, /cluster BCS-K8S-60001 already exists/);
      const badType = await run('cluster', 'create', 'BCS-X-1', '--type', 'nomad');
      assert.equal(badType.status, 1);
      assert.match(badType.stderr, /must be one of k8s, mesos, tke/);
    });

    it('cluster credentials stores what an agent would report, with the register token the cluster has', async () => {
      const stored = await run('cluster', 'credentials', 'BCS-K8S-60001', '--server', 'https://10.0.0.1:6443', '--server', 'https://10.0.0.2:6443', '--ca-file', 'ca.pem', '--token-file', 'sa.token');
      assert.equal(stored.status, 0, stored.stderr);
      assert.match(stored.stdout, /^stored the credentials of cluster BCS-K8S-60001: https:\/\/10\.0\.0\.1:6443, https:\/\/10\.0\.0\.2:6443 \(CA [0-9A-F:]{95}\)$/m);
      assert.ok(!stored.stdout.includes('sa-token-value') && !stored.stderr.includes('sa-token-value'), 'the token is never printed');
      const secrets = await withRuntime((rt) => readClusterSecrets(rt.context(), undefined, 'BCS-K8S-60001'));
      assert.deepEqual(secrets.serverAddresses, ['https://10.0.0.1:6443', 'https://10.0.0.2:6443']);
      assert.equal(secrets.caCertData, apiserver.caPem);
      assert.equal(secrets.userToken, 'sa-token-value', 'trimmed of its newline');
      assert.equal(await withRuntime(async (rt) => (await readRegisterToken(rt.context(), undefined, 'BCS-K8S-60001')).secret), registerToken, 'the agent keeps its token');
    });

    it('cluster credentials names what is wrong', async () => {
      const cases: [string[], number, RegExp][] = [
        [['--ca-file', 'ca.pem', '--token-file', 'sa.token'], 2, /missing --server </],
        [['--server', 'https://10.0.0.1:6443', '--token-file', 'sa.token'], 2, /missing --ca-file </],
        [['--server', 'https://10.0.0.1:6443', '--ca-file', 'ca.pem'], 2, /missing --token-file </],
        [['--server', 'https://10.0.0.1:6443', '--ca-file', 'nope.pem', '--token-file', 'sa.token'], 2, /--ca-file: cannot read nope\.pem \(ENOENT\)/],
        [['--server', 'https://10.0.0.1:6443', '--ca-file', 'not-a-cert.pem', '--token-file', 'sa.token'], 2, /--ca-file: must be a PEM certificate/],
        [['--server', 'ftp://10.0.0.1', '--ca-file', 'ca.pem', '--token-file', 'sa.token'], 2, /--server: has an invalid URL/],
      ];
      for (const [flags, status, message] of cases) {
        const r = await run('cluster', 'credentials', 'BCS-K8S-60001', ...flags);
        assert.equal(r.status, status, `${flags.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
      const unknown = await run('cluster', 'credentials', 'NOPE-1', '--server', 'https://10.0.0.1:6443', '--ca-file', 'ca.pem', '--token-file', 'sa.token');
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /^bcs-api: cluster NOPE-1 not found$/m);
    });

    it('kubeconfig writes a 0600 file for the TLS listener with the generated CA and a fresh token of the user', async () => {
      const noAdmin = await run('kubeconfig', 'BCS-K8S-60001');
      assert.equal(noAdmin.status, 1);
      assert.match(noAdmin.stderr, /user admin not found \(serve creates it on its first start; or name another with --user\)/);
      assert.equal((await run('user', 'create', 'admin', '--super')).status, 0);

      const file = path.join(cwd, 'bcs.kubeconfig');
      fs.writeFileSync(file, 'old', { mode: 0o644 });
      const r = await run('kubeconfig', 'BCS-K8S-60001', '--ttl', '600', '-o', 'bcs.kubeconfig');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^wrote bcs\.kubeconfig: https:\/\/127\.0\.0\.1:8443\/tunnels\/clusters\/bcs-k8s-60001-[a-z0-9]{16} as admin \(token \d+, expires /m);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'an existing file is made private too');
      const doc = parseYaml(fs.readFileSync(file, 'utf8')) as { clusters: { cluster: Record<string, string> }[]; users: { user: { token: string } }[] };
      const ca = fs.readFileSync(path.join(cwd, 'data', 'tls', 'ca.crt'), 'utf8');
      assert.equal(Buffer.from(doc.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString(), ca);
      assert.equal(fs.existsSync(path.join(cwd, 'data', 'tls', 'server.crt')), false, 'the server certificate is left to serve');
      const principal = await withRuntime((rt) => authenticate(rt.context().em, doc.users[0]!.user.token, new Date()));
      assert.equal(principal.user.name, 'admin');
      assert.equal(principal.token.type, 'kubeconfig');
      assert.ok(principal.token.expiresAt!.getTime() - Date.now() <= 600_000);

      const toStdout = await run('kubeconfig', 'BCS-K8S-60001', '--user', 'admin');
      assert.equal(toStdout.status, 0, toStdout.stderr);
      assert.match(toStdout.stdout, /^apiVersion: v1\nkind: Config\n/);
    });

    it('kubeconfig names what is wrong', async () => {
      const cases: [string[], number, RegExp][] = [
        [['kubeconfig'], 2, /kubeconfig: missing <cluster>/],
        [['kubeconfig', 'NOPE-1'], 1, /^bcs-api: cluster NOPE-1 not found$/m],
        [['kubeconfig', 'BCS-K8S-60001', '--user', 'nobody'], 1, /^bcs-api: user nobody not found$/m],
        [['kubeconfig', 'BCS-K8S-60001', '--ttl', 'soon'], 2, /--ttl: must be a whole number of seconds/],
        [['kubeconfig', 'BCS-K8S-60001', '--bogus'], 2, /Unknown option '--bogus'/],
      ];
      for (const [args, status, message] of cases) {
        const r = await run(...args);
        assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
      const noTls = await cli(['kubeconfig', 'BCS-K8S-60001'], cwd, { ...env, BCS_API_AUTO_TLS: 'false' });
      assert.equal(noTls.status, 1);
      assert.match(noTls.stderr, /serves no TLS, so kubectl would not send its token/);
    });
  });
}
