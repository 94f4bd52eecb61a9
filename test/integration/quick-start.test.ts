/**
 * The README's quick start, run as written: the block of commands is read out of README.md (so the two
 * cannot drift) and run by bash against a gateway started the way `npm start` starts it, with a fake
 * kube-apiserver standing in for the reader's cluster. Only what must differ comes from the environment
 * the commands already read: the ports (BCS_API_PORT, BCS_API_AUTO_TLS_PORT), the cluster's address, CA
 * and token files (KUBE_SERVER, KUBE_CA_FILE, KUBE_TOKEN_FILE), and HOME (kubectl's cache).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { tempDir } from '../helpers/app';
import { requireKubectl, startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { freePorts, spawnServe, type ServeProcess } from '../helpers/serve-process';

const ROOT = path.resolve(__dirname, '../../..');
const MARKER = '<!-- test/integration/quick-start.test.ts runs this block as it is';

/** The README's "Quick start" section. */
function quickStartSection(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Quick start\n');
  assert.ok(start >= 0, 'README.md has a "## Quick start" section');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The code blocks the README marks as run by this test, their list indentation removed. */
function testedBlocks(section: string): string[] {
  const blocks: string[] = [];
  const re = /^([ \t]*)<!-- test\/integration\/quick-start\.test\.ts runs this block as it is[^\n]*-->\n\1```sh\n([\s\S]*?)\n\1```/gm;
  for (const m of section.matchAll(re)) blocks.push(m[2]!.split('\n').map((l) => (l.startsWith(m[1]!) ? l.slice(m[1]!.length) : l)).join('\n'));
  return blocks;
}

/** Runs a script with bash -e, asynchronously: the fake apiserver lives in this process and must keep answering. */
function runBash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-e', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('README quick start, run as written', () => {
  let fake: FakeKube;
  let gateway: ServeProcess | undefined;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  let tlsPort: number;
  let commands: string;

  before(async () => {
    requireKubectl();
    const section = quickStartSection();
    assert.ok(section.includes(MARKER));
    const blocks = testedBlocks(section);
    assert.equal(blocks.length, 1, 'one marked block of commands');
    commands = blocks[0]!;
    // The reader starts the gateway with `npm start`; the test runs what it runs after building.
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(section, /`npm ci && npm start`/);
    const [build, serveCommand] = pkg.scripts['start']!.split(' && ');
    assert.equal(build, 'npm run build', 'npm start builds, then serves');

    fake = await startFakeKube();
    fake.addPod('shop', 'web-1');
    fake.addPod('kube-system', 'coredns-1');
    cwd = tempDir('bcs-api-quick-start-');
    // The reader's checkout: the commands run in the repository, whose dist/ npm start built.
    fs.symlinkSync(path.join(ROOT, 'dist'), path.join(cwd, 'dist'));
    fs.writeFileSync(path.join(cwd, 'fake-ca.pem'), fake.caPem);
    fs.writeFileSync(path.join(cwd, 'fake-sa.token'), `${fake.token}\n`);
    const [plainPort, tls] = await freePorts(2);
    tlsPort = tls!;
    env = {
      PATH: process.env.PATH,
      HOME: cwd,
      BCS_API_PORT: String(plainPort),
      BCS_API_AUTO_TLS_PORT: String(tlsPort),
      KUBE_SERVER: fake.url,
      KUBE_CA_FILE: 'fake-ca.pem',
      KUBE_TOKEN_FILE: 'fake-sa.token',
    };
    gateway = await spawnServe('sh', ['-c', `exec ${serveCommand}`], { cwd, env });
  });
  after(async () => {
    await gateway?.stop();
    await fake?.stop();
    if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('takes a fresh gateway to kubectl get pods through its generated TLS listener', async () => {
    assert.ok(gateway!.urls.includes(`https://127.0.0.1:${tlsPort}`), `TLS listener on the chosen port: ${gateway!.urls.join(', ')}`);
    const run = await runBash(commands, cwd, env);
    assert.equal(run.status, 0, `the quick-start commands failed:\n${run.stdout}\n${run.stderr}`);
    // kubectl printed the fake cluster's pods, in every namespace.
    assert.match(run.stdout, /^shop\s+web-1\s/m);
    assert.match(run.stdout, /^kube-system\s+coredns-1\s/m);
    assert.match(run.stdout, /Its register token \(shown only now/);

    // It got there through the gateway, which used the stored service-account credential.
    const lists = fake.requests.filter((r) => r.url.startsWith('/api/v1/pods'));
    assert.ok(lists.length > 0, 'the fake saw the pod list');
    assert.ok(lists.every((r) => r.header('authorization')[0] === `Bearer ${fake.token}`));

    // The kubeconfig points at the TLS listener and trusts the CA generated in ./data/tls; file mode 0600.
    const file = path.join(cwd, 'bcs.kubeconfig');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const kc = parseYaml(fs.readFileSync(file, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
    assert.match(kc.clusters[0]!.cluster['server']!, new RegExp(`^https://127\\.0\\.0\\.1:${tlsPort}/tunnels/clusters/bcs-k8s-001-[a-z0-9]{16}$`));
    const ca = fs.readFileSync(path.join(cwd, 'data', 'tls', 'ca.crt'), 'utf8');
    assert.equal(Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString(), ca);
  });
});
