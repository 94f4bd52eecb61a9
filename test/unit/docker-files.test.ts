import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ENV_OVERRIDES, loadConfig } from '../../src/config/load';

// Compiled to dist/test/unit: the repository root is three levels up.
const ROOT = path.resolve(__dirname, '../../..');
const file = (p: string): string => path.join(ROOT, p);
const read = (p: string): string => fs.readFileSync(file(p), 'utf8');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  volumes?: string[];
  tmpfs?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

describe('docker files', () => {
  it('compose.yaml defines the demo stack with pinned images', () => {
    const compose = parseYaml(read('docker/compose.yaml')) as { services: Record<string, ComposeService> };
    const services = compose.services;
    assert.deepEqual(Object.keys(services).sort(), ['bcs-api', 'bcs-api-proxy', 'mariadb', 'zookeeper']);
    for (const [name, s] of Object.entries(services)) {
      assert.match(s.image ?? '', /^[\w./-]+:\d[\w.-]*$/, `${name} pins a versioned image tag`);
    }
    assert.ok(services.mariadb!.tmpfs?.includes('/var/lib/mysql'));
    assert.ok(services.mariadb!.healthcheck);
    assert.equal(path.resolve(file('docker'), services['bcs-api']!.build!.context), ROOT);
    assert.ok(fs.existsSync(path.resolve(ROOT, services['bcs-api']!.build!.dockerfile)));
    assert.deepEqual(services['bcs-api']!.command?.slice(0, 3), ['serve', '--role', 'api']);
    assert.deepEqual(services['bcs-api-proxy']!.command?.slice(0, 3), ['serve', '--role', 'proxy']);
    assert.equal(services['bcs-api-proxy']!.image, services['bcs-api']!.image);
    assert.equal(services['bcs-api']!.depends_on?.mariadb?.condition, 'service_healthy');
    for (const name of ['bcs-api', 'bcs-api-proxy']) {
      const mount = services[name]!.volumes!.find((v) => v.includes(':/etc/bcs-api/config.yaml'))!;
      assert.ok(fs.existsSync(path.resolve(file('docker'), mount.split(':')[0]!)), `${name} mounts an existing config`);
    }
  });

  it('config.example.yaml is accepted by the loader, with no ignored keys', () => {
    const config = loadConfig({ file: file('docker/config.example.yaml'), env: {}, cwd: ROOT });
    assert.deepEqual(config.ignoredKeys, []);
    assert.deepEqual(config.plain, { address: '0.0.0.0', port: 8080 });
    assert.equal(config.tls, undefined);
    assert.equal(config.database.dialect, 'mysql');
    assert.equal(config.database.dialect === 'mysql' && config.database.target.host, 'mariadb');
    assert.equal(config.zookeeper, 'zookeeper:2181');
    assert.deepEqual(config.encryption, { keyFile: '/var/lib/bcs-api/keyring.json' });
  });

  it('config.example.yaml documents exactly the environment overrides the loader reads', () => {
    const documented = new Set(read('docker/config.example.yaml').match(/\bBCS_API_[A-Z_]+\b/g));
    assert.deepEqual([...documented].sort(), Object.keys(ENV_OVERRIDES).sort(), 'keep the header comment of docker/config.example.yaml in step with ENV_OVERRIDES');
  });

  it('Dockerfile runs the CLI as a non-root user with a health check', () => {
    const dockerfile = read('docker/Dockerfile');
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    assert.match(dockerfile, /^FROM node:\$\{NODE_VERSION\}-bookworm AS build$/m);
    assert.match(dockerfile, /^FROM node:\$\{NODE_VERSION\}-bookworm-slim$/m);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^EXPOSE 8080$/m);
    assert.match(dockerfile, /^\s*CMD \["node", "docker\/healthcheck\.js"\]$/m);
    assert.ok(dockerfile.includes(`ENTRYPOINT ["node", "${pkg.bin['bcs-api']}"]`));
    assert.match(dockerfile, /^CMD \["serve", "-f", "\/etc\/bcs-api\/config\.yaml"\]$/m);
    const ignore = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '!docker/healthcheck.js']) assert.ok(ignore.includes(entry), entry);
  });

  it('healthcheck.js exits 0 only when /readyz answers 200', async () => {
    let status = 200;
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/readyz' ? status : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    // Asynchronously: this process's server has to answer the check.
    const run = (target: string): Promise<number | null> =>
      new Promise((resolve) => {
        spawn(process.execPath, [file('docker/healthcheck.js')], { env: { ...process.env, BCS_API_HEALTHCHECK_URL: target }, stdio: 'ignore' }).on(
          'exit',
          (code) => resolve(code),
        );
      });
    try {
      assert.equal(await run(url), 0);
      status = 503;
      assert.equal(await run(url), 1);
    } finally {
      server.close();
    }
    assert.equal(spawnSync(process.execPath, [file('docker/healthcheck.js')], { env: { ...process.env, BCS_API_HEALTHCHECK_URL: 'http://127.0.0.1:1/readyz' } }).status, 1);
  });
});
