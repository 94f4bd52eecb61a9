import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { parseAgentArgs, parseListenAddr } from '../../src/agent/options';
import { parseCommandLine } from '../../src/cli/usage';
import { AUTO_TLS_PORT } from '../../src/config/auto-tls';
import { loadConfig } from '../../src/config/load';
import { expandArgs, parseDockerfile, type Instruction, type Stage } from '../helpers/deploy/dockerfile';
import { readRepo, repoPath, ROOT } from '../helpers/deploy/files';

const dockerfile = parseDockerfile(readRepo('docker/Dockerfile'));
const pkg = JSON.parse(readRepo('package.json')) as { bin: Record<string, string>; engines: { node: string } };
const [build, runtime] = dockerfile.stages as [Stage, Stage];
const all = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string): Instruction => {
  const found = all(stage, keyword).at(-1);
  assert.ok(found, `the ${stage.name ?? 'final'} stage has ${keyword}`);
  return found;
};
/** Sources of a COPY (everything but the destination). */
const sources = (i: Instruction): string[] => i.args.split(' ').slice(0, -1);

/** `>=20.19 <21 || >=22`, the shape package.json's engines field has. */
function satisfiesEngines(version: string, range: string): boolean {
  const [maj, min] = version.split('.').map(Number) as [number, number];
  return range.split('||').some((alt) =>
    alt.trim().split(/\s+/).every((c) => {
      const m = /^(>=|<)(\d+)(?:\.(\d+))?$/.exec(c)!;
      const cmp = maj !== Number(m[2]) ? maj - Number(m[2]) : min - Number(m[3] ?? 0);
      return m[1] === '>=' ? cmp >= 0 : cmp < 0;
    }),
  );
}

describe('docker/Dockerfile', () => {
  it('builds in a full Debian stage and runs in a slim one of the same pinned Node', () => {
    assert.equal(dockerfile.stages.length, 2);
    const version = dockerfile.globalArgs['NODE_VERSION'] ?? '';
    assert.match(version, /^\d+\.\d+\.\d+$/, 'NODE_VERSION is an exact version');
    assert.ok(satisfiesEngines(version, pkg.engines.node), `Node ${version} satisfies engines ${pkg.engines.node}`);
    assert.equal(build.name, 'build');
    assert.equal(expandArgs(build.base, dockerfile.globalArgs), `node:${version}-bookworm`);
    // Same Node, same Debian release: the addons compiled in the build stage load in the runtime one.
    assert.equal(expandArgs(runtime.base, dockerfile.globalArgs), `node:${version}-bookworm-slim`);
  });

  it('installs from the lock file, compiles, and drops dev dependencies before the runtime stage copies node_modules', () => {
    const runs = all(build, 'RUN').map((r) => r.args);
    const ci = runs.findIndex((r) => /^npm ci\b/.test(r));
    const compile = runs.findIndex((r) => r.includes('npm run build') && r.includes('npm prune --omit=dev'));
    assert.ok(ci >= 0 && compile > ci, 'npm ci, then npm run build && npm prune --omit=dev');
    for (const copy of all(build, 'COPY')) {
      for (const src of sources(copy)) assert.ok(fs.existsSync(repoPath(src)), `COPY ${src}: exists in the repository`);
    }
  });

  it('copies only compiled code, production dependencies and migrations into the runtime stage', () => {
    const fromBuild = all(runtime, 'COPY').filter((c) => c.flags['from'] === 'build').flatMap(sources);
    assert.deepEqual(fromBuild.sort(), ['/app/dist/migrations', '/app/dist/proxy', '/app/dist/src', '/app/migrations', '/app/node_modules', '/app/package.json']);
    const fromContext = all(runtime, 'COPY').filter((c) => !c.flags['from']).flatMap(sources);
    assert.deepEqual(fromContext, ['docker/healthcheck.js']);
    assert.equal(last(runtime, 'WORKDIR').args, '/app');
  });

  it('runs as a numeric non-root user with the package bin as ENTRYPOINT and `serve` as CMD', () => {
    const user = last(runtime, 'USER');
    assert.match(user.args, /^[1-9]\d*(:[1-9]\d*)?$/, 'a numeric uid other than 0 (runAsNonRoot can verify it)');
    assert.ok(user.line < last(runtime, 'ENTRYPOINT').line);
    assert.deepEqual(last(runtime, 'ENTRYPOINT').exec, ['bcs-api']);
    // The bin on PATH is the package's bin, made executable in the build stage.
    assert.ok(all(runtime, 'RUN').some((r) => r.args.includes(`ln -s /app/${pkg.bin['bcs-api']} /usr/local/bin/bcs-api`)));
    assert.ok(all(build, 'RUN').some((r) => r.args.includes(`chmod 0755 ${pkg.bin['bcs-api']}`)));
    assert.match(fs.readFileSync(repoPath(pkg.bin['bcs-api']!), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    const cmd = last(runtime, 'CMD').exec!;
    const { values, positionals } = parseCommandLine(cmd);
    assert.deepEqual(positionals, ['serve']);
    assert.equal(values.config, '/etc/bcs-api/config.yaml');
  });

  it('checks /livez on the default plain listener with node, and exposes the listeners the code opens', () => {
    const check = last(runtime, 'HEALTHCHECK');
    assert.equal(check.exec?.[0], 'node');
    assert.equal(check.exec?.[1], 'docker/healthcheck.js');
    const url = new URL(check.exec![2]!);
    const defaults = loadConfig({ env: {}, cwd: ROOT });
    assert.equal(url.pathname, '/livez');
    assert.equal(Number(url.port), defaults.plain!.port);
    assert.equal(url.hostname, '127.0.0.1');
    const exposed = last(runtime, 'EXPOSE').args.split(' ').map(Number);
    const agentListen = parseListenAddr(parseAgentArgs([])['listen-addr']!).port;
    assert.deepEqual(exposed, [defaults.plain!.port, AUTO_TLS_PORT, agentListen]);
  });

  it('.dockerignore leaves exactly the COPY sources in the build context', () => {
    const lines = readRepo('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(lines[0], '*', 'everything is ignored first');
    const included = lines.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, ''));
    const copied = dockerfile.stages.flatMap((s) => all(s, 'COPY').filter((c) => !c.flags['from']).flatMap(sources)).map((s) => s.replace(/\/$/, ''));
    assert.deepEqual([...new Set(copied)].sort(), included.sort());
  });
});

describe('docker/healthcheck.js', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<number | null> =>
    new Promise((resolve) => {
      // Asynchronously: this process's server has to answer the check.
      spawn(process.execPath, [repoPath('docker/healthcheck.js'), ...args], { env: { PATH: process.env['PATH'], ...env }, stdio: 'ignore' }).on('exit', resolve);
    });

  it('exits 0 only when the URL answers 200, the URL from its argument or the environment', async () => {
    const status: Record<string, number> = { '/livez': 200, '/readyz': 503 };
    const server = http.createServer((req, res) => res.writeHead(status[req.url ?? ''] ?? 404).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal(await run([`${base}/livez`]), 0);
      assert.equal(await run([`${base}/readyz`]), 1);
      assert.equal(await run([], { BCS_API_HEALTHCHECK_URL: `${base}/livez` }), 0);
      assert.equal(await run([`${base}/readyz`], { BCS_API_HEALTHCHECK_URL: `${base}/livez` }), 1, 'the argument wins');
    } finally {
      server.close();
    }
    assert.equal(await run(['http://127.0.0.1:1/livez']), 1, 'nothing listening');
  });
});
