import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseCommandLine } from '../../src/cli/usage';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { loadCompose, MissingVariable, type ComposeService } from '../helpers/deploy/compose';
import { readRepo, repoPath, ROOT } from '../helpers/deploy/files';

const TEXT = readRepo('docker/compose.yaml');
const ENV = { BCS_API_DB_PASSWORD: 'f00dfeed', BCS_API_PEERING_SECRET: 'c0ffee'.repeat(8) };
const { raw, resolved } = loadCompose(TEXT, ENV);
const services = resolved.services;
const GATEWAYS = ['bcs-api-1', 'bcs-api-2', 'bcs-api-proxy'];
const ZOOKEEPERS = ['zk1', 'zk2', 'zk3'];

/** Host path (relative to docker/) of the file a service mounts at `target`. */
function mountSource(s: ComposeService, target: string): string | undefined {
  const volume = s.volumes?.find((v) => v.split(':')[1] === target);
  return volume?.split(':')[0];
}

/** The service's configuration, read by the real loader from the file it mounts, with its environment. */
function gatewayConfig(name: string): { config: Config; role: string } {
  const s = services[name]!;
  const { values, positionals } = parseCommandLine(s.command!);
  assert.deepEqual(positionals, ['serve'], `${name} serves`);
  const source = mountSource(s, values.config!);
  assert.ok(source, `${name} mounts its -f ${values.config}`);
  const file = path.resolve(repoPath('docker'), source);
  assert.ok(fs.existsSync(file), `${name}: ${source} exists`);
  return { config: loadConfig({ file, env: s.environment ?? {}, cwd: '/' }), role: values.role! };
}

describe('docker/compose.yaml', () => {
  it('runs MariaDB, a three-node ZooKeeper ensemble, two API replicas and a proxy sidecar, on pinned images', () => {
    assert.deepEqual(Object.keys(services).sort(), ['bcs-api-1', 'bcs-api-2', 'bcs-api-proxy', 'mariadb', ...ZOOKEEPERS].sort());
    for (const [name, s] of Object.entries(services)) assert.match(s.image ?? '', /^[\w./-]+:\d[\w.-]*$/, `${name} pins a versioned image`);
    assert.deepEqual(GATEWAYS.map((g) => gatewayConfig(g).role), ['api', 'api', 'proxy']);
    for (const name of GATEWAYS) {
      const s = services[name]!;
      assert.equal(s.image, services['bcs-api-1']!.image, `${name}: one image`);
      assert.equal(path.resolve(repoPath('docker'), s.build!.context), ROOT);
      assert.ok(fs.existsSync(path.resolve(ROOT, s.build!.dockerfile)));
      assert.equal(s.init, true, `${name}: an init process forwards signals`);
      assert.equal(s.read_only, true);
      assert.deepEqual(s.cap_drop, ['ALL']);
      assert.ok(s.security_opt?.includes('no-new-privileges:true'));
    }
  });

  it('has no default secret: the database password must come from the environment', () => {
    assert.throws(() => loadCompose(TEXT, {}), MissingVariable);
    assert.throws(() => loadCompose(TEXT, { BCS_API_DB_PASSWORD: '' }), MissingVariable);
    for (const [name, s] of Object.entries(raw.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (!/PASSWORD|DSN|SECRET|TOKEN/.test(key) || key === 'MARIADB_RANDOM_ROOT_PASSWORD') continue;
        assert.match(String(value), /\$\{\w+:\?[^}]+\}/, `${name} ${key} is a required variable, not a literal`);
      }
    }
  });

  it('gives each gateway a configuration the loader accepts, on the shared database, ensemble and keyring', () => {
    const db = services['mariadb']!.environment!;
    const volumes = new Set<string>();
    for (const name of GATEWAYS) {
      const { config } = gatewayConfig(name);
      assert.deepEqual([config.ignoredKeys, config.unusedKeys, config.warnings], [[], [], []], `${name}: every key is used`);
      assert.equal(config.database.dialect, 'mysql');
      if (config.database.dialect !== 'mysql') return;
      const { host, port, user, password, dbName } = config.database.target;
      assert.deepEqual([host, port, user, password, dbName], ['mariadb', 3306, db['MARIADB_USER'], ENV.BCS_API_DB_PASSWORD, db['MARIADB_DATABASE']]);
      assert.equal(db['MARIADB_PASSWORD'], ENV.BCS_API_DB_PASSWORD);
      const zk = config.zookeeper!.split(',');
      assert.deepEqual(zk.map((h) => h.split(':')[0]).sort(), ZOOKEEPERS, `${name}: the whole ensemble`);
      for (const hostPort of zk) {
        const [zkHost, zkPort] = hostPort.split(':');
        const env = services[zkHost!]!.environment!;
        assert.ok(env['ZOO_SERVERS']!.includes(`server.${env['ZOO_MY_ID']}=${zkHost}:2888:3888;${zkPort}`), `${hostPort} is that node's client port`);
      }
      assert.ok('keyFile' in config.encryption && config.encryption.keyFile.startsWith(`${config.dataDir}/`));
      const dataVolume = services[name]!.volumes!.find((v) => v.split(':')[1] === config.dataDir)!.split(':')[0]!;
      assert.ok(raw.volumes && dataVolume in raw.volumes, `${name}: data_dir is the named volume ${dataVolume}`);
      volumes.add(dataVolume);
    }
    assert.equal(volumes.size, 1, 'one keyring and one first-run CA for every gateway process');
  });

  it('publishes and checks the ports the configuration opens', () => {
    const published = new Map<string, string[]>();
    for (const name of GATEWAYS) {
      const { config } = gatewayConfig(name);
      const s = services[name]!;
      // The health check asks the plain listener for /livez, from inside the container.
      assert.deepEqual(s.healthcheck!.test.slice(0, 3), ['CMD', 'node', 'docker/healthcheck.js']);
      const check = new URL(s.healthcheck!.test[3]!);
      assert.deepEqual([check.hostname, Number(check.port), check.pathname], ['127.0.0.1', config.plain!.port, '/livez']);
      assert.deepEqual(s.expose!.map(Number).sort(), [config.plain!.port, config.autoTls!.port, config.metrics.listener!.port].sort());
      assert.equal(config.metrics.onMainListener, false);
      for (const mapping of s.ports ?? []) {
        const [hostPort, containerPort] = mapping.split(':');
        assert.equal(Number(containerPort), config.autoTls!.port, `${name} publishes only its TLS listener`);
        published.set(hostPort!, [...(published.get(hostPort!) ?? []), name]);
      }
    }
    assert.ok([...published.values()].every((owners) => owners.length === 1), 'no host port published twice');
    // Kubeconfigs name public_url; only the proxy role serves /tunnels.
    const publicUrl = new URL(gatewayConfig('bcs-api-1').config.publicUrl!);
    assert.deepEqual(published.get(publicUrl.port), ['bcs-api-proxy']);
  });

  it('forms the ensemble from three numbered nodes', () => {
    const ids = ZOOKEEPERS.map((z) => services[z]!.environment!['ZOO_MY_ID']);
    assert.deepEqual(ids, ['1', '2', '3']);
    const servers = new Set(ZOOKEEPERS.map((z) => services[z]!.environment!['ZOO_SERVERS']));
    assert.equal(servers.size, 1, 'every node has the same server list');
    assert.deepEqual([...servers][0]!.split(' ').map((s) => /^server\.(\d)=(\w+):/.exec(s)!.slice(1, 3).join('=')), ['1=zk1', '2=zk2', '3=zk3']);
    for (const z of ZOOKEEPERS) assert.equal(services[z]!.hostname, z);
  });

  it('starts each service after the healthy services it needs; one gateway migrates before the others start', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        assert.equal(condition, 'service_healthy', `${name} → ${dep}`);
        assert.ok(services[dep]?.healthcheck?.test.length, `${dep} has a health check`);
      }
    }
    const first = GATEWAYS.filter((g) => !Object.keys(services[g]!.depends_on ?? {}).some((d) => GATEWAYS.includes(d)));
    assert.deepEqual(first, ['bcs-api-1']);
    assert.deepEqual(Object.keys(services['bcs-api-1']!.depends_on!).sort(), ['mariadb', ...ZOOKEEPERS]);
    for (const g of GATEWAYS.filter((x) => x !== 'bcs-api-1')) assert.deepEqual(Object.keys(services[g]!.depends_on!), ['bcs-api-1']);
    const declared = Object.keys(raw.volumes ?? {});
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.')) assert.ok(declared.includes(source), `${name}: volume ${source} is declared`);
      }
    }
  });
});
