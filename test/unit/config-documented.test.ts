import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { levelFromVerbosity } from '../../src/config/logging';
import { logConfigWarnings } from '../../src/config/warnings';
import { createLogger } from '../../src/log';
import { tempDir } from '../helpers/app';
import { documentedConfig, lineOf, type DocumentedFill } from '../helpers/documented-config';
import { problemsOf } from '../helpers/config-problems';

/** The documented file with its blanks filled, in a temp dir holding the files it names. */
function documented(over: Partial<DocumentedFill> = {}): { dir: string; file: string; content: string } {
  const dir = tempDir('bcs-api-doc-config-');
  for (const name of ['ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key']) fs.writeFileSync(path.join(dir, name), 'pem');
  const content = documentedConfig({
    address: '0.0.0.0',
    port: 8443,
    insecureAddress: '0.0.0.0',
    insecurePort: 8080,
    metricPort: 8087,
    zookeeper: '10.0.0.1:2181,10.0.0.2:2181',
    caFile: 'ca.crt',
    serverCertFile: 'server.crt',
    serverKeyFile: 'server.key',
    clientCertFile: 'client.crt',
    clientKeyFile: 'client.key',
    v: 0,
    localIp: '10.0.0.10',
    subServerFirst: 'perm-old.example:8080',
    subServer: 'perm.example:8080',
    appCode: 'bcs-app',
    appSecret: 'app-secret-value',
    dsn: 'root:pw@tcp(10.0.0.5:3306)/bke_core?charset=utf8mb4&parseTime=True&loc=Local',
    adminToken: 'admin-token-from-the-file',
    consoleProxyPort: 8083,
    ...over,
  });
  const file = path.join(dir, 'bcs-api.yaml');
  fs.writeFileSync(file, content);
  return { dir, file, content };
}

// The documented file binds its plain listener on 0.0.0.0; this gateway asks for that to be explicit.
const ALLOW = { BCS_API_ALLOW_INSECURE_LISTENER: 'true' };

describe("the original's documented bcs-api.yaml", () => {
  it('maps every key of every section onto the configuration', () => {
    const { dir, file } = documented();
    const c = loadConfig({ file, env: ALLOW, cwd: dir });
    const at = (f: string) => path.join(dir, f);
    assert.deepEqual(c.tls, { address: '0.0.0.0', port: 8443, certFile: at('server.crt'), keyFile: at('server.key'), caFile: at('ca.crt'), verifyClientTls: false });
    assert.deepEqual(c.plain, { address: '0.0.0.0', port: 8080 });
    assert.deepEqual(c.metrics, { listener: { address: '0.0.0.0', port: 8087 }, onMainListener: true });
    assert.equal(c.zookeeper, '10.0.0.1:2181,10.0.0.2:2181');
    assert.deepEqual(c.clientTls, { certFile: at('client.crt'), keyFile: at('client.key') });
    assert.equal(c.logLevel, 'info');
    assert.equal(c.localIp, '10.0.0.10');
    assert.deepEqual(c.rbac.subscription, { url: 'perm.example:8080', appCode: 'bcs-app', appSecret: 'app-secret-value', caFile: undefined });
    assert.deepEqual(c.database, { dialect: 'mysql', target: { host: '10.0.0.5', port: 3306, user: 'root', password: 'pw', dbName: 'bke_core' }, poolMax: 20 });
    assert.deepEqual(c.bootstrapUsers, [{ name: 'admin', isSuperUser: true, groups: [], tokens: ['admin-token-from-the-file'] }]);
    assert.deepEqual([c.rbac.turnOnRbac, c.rbac.turnOnAuth, c.rbac.turnOnConf], [false, false, false]);
    assert.equal(c.consoleProxyPort, 8083);
    assert.equal(c.apigwJwtKey, undefined);
    assert.deepEqual(c.ignoredKeys, []);
    assert.deepEqual(c.unusedKeys, [
      'edition',
      'license_server_config.ls_address', 'license_server_config.ls_ca_file', 'license_server_config.ls_client_cert_file', 'license_server_config.ls_client_key_file',
      'log_config.log_dir', 'log_config.log_max_size', 'log_config.log_max_num', 'log_config.logtostderr', 'log_config.alsologtostderr',
      'log_config.stderrthreshold', 'log_config.vmodule', 'log_config.log_backtrace_at',
      'process_config.pid_dir',
      // bkiam_auth.auth: false is read: it leaves the API gateway's key (and so X-Bkapi-JWT) off, as in the original.
      'bkiam_auth.apigw_rsa_file', 'bkiam_auth.auth_token_sync_time', 'bkiam_auth.bkiam_auth_host',
      'bkiam_auth.bkiam_auth_system_id', 'bkiam_auth.bkiam_auth_scope_id', 'bkiam_auth.bkiam_auth_zookeeper', 'bkiam_auth.bkiam_auth_token_whitelist',
    ]);
    // And ZooKeeper without a peering secret: replicas do not relay tunnels to each other (one line).
    assert.equal(c.warnings.length, 3, 'the duplicate and the unused keys, and peering off: one line each');
    assert.equal(c.warnings.filter((w) => w.message.includes('no peering secret')).length, 1);
  });

  it('loads as printed, blanks left blank: no TLS, plain on insecure_address:insecure_port, no ZooKeeper', () => {
    const { dir, file } = documented({ caFile: '', serverCertFile: '', serverKeyFile: '', clientCertFile: '', clientKeyFile: '', zookeeper: '', localIp: '', adminToken: '' });
    const c = loadConfig({ file, env: ALLOW, cwd: dir });
    assert.equal(c.tls, undefined);
    assert.deepEqual(c.plain, { address: '0.0.0.0', port: 8080 }, 'service_config.port is unused without TLS, as in the original');
    assert.equal(c.zookeeper, undefined);
    assert.equal(c.localIp, undefined);
    assert.equal(c.clientTls, undefined);
    assert.deepEqual(c.bootstrapUsers[0]!.tokens, [], 'a blank token stands for none');
  });

  it('refuses the plain listener on 0.0.0.0 unless allowed, naming the key as written', () => {
    const { dir, file } = documented();
    const problems = problemsOf(() => loadConfig({ file, env: {}, cwd: dir }));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^service_config\.insecure_address: a plain-HTTP listener on 0\.0\.0\.0 would carry tokens in clear text; bind it to 127\.0\.0\.1, or set allow_insecure_listener: true$/);
  });

  it('names the keys of its sections in errors', () => {
    const { dir, file } = documented({ serverKeyFile: '', clientCertFile: 'missing.crt', metricPort: 8080 });
    const text = problemsOf(() => loadConfig({ file, env: ALLOW, cwd: dir })).join('\n');
    assert.match(text, /^cert_config\.server_cert_file and cert_config\.server_key_file must be set together \(only cert_config\.server_cert_file is set\)$/m);
    assert.match(text, /^cert_config\.client_cert_file: file missing\.crt does not exist$/m);
    assert.match(text, /^metric_config\.metric_port: port 8080 is already taken by service_config\.insecure_port$/m);
  });
});

describe('duplicate keys', () => {
  it('are accepted, the last one wins, and one warning names the key path and both lines', () => {
    const { dir, file, content } = documented();
    const c = loadConfig({ file, env: ALLOW, cwd: dir });
    const first = lineOf(content, 'bkiam_auth_sub_server:', 1);
    const second = lineOf(content, 'bkiam_auth_sub_server:', 2);
    const dup = c.warnings.filter((w) => w.message.includes('written twice'));
    assert.equal(dup.length, 1);
    assert.equal(dup[0]!.message, `${file}: key bkiam_auth.bkiam_auth_sub_server is written twice (lines ${first} and ${second}); the last one (line ${second}) is used`);
    assert.deepEqual(dup[0]!.keys, ['bkiam_auth.bkiam_auth_sub_server']);
    assert.equal(c.rbac.subscription?.url, 'perm.example:8080');
  });

  it('are found in nested lists and in JSON files too', () => {
    const dir = tempDir('bcs-api-dup-');
    const yamlFile = path.join(dir, 'c.yaml');
    fs.writeFileSync(yamlFile, 'port: 1\nbootstrap_users:\n  - name: a\n    name: b\nport: 2\nport: 3\n');
    const y = loadConfig({ file: yamlFile, env: {}, cwd: dir });
    assert.equal(y.plain?.port, 3);
    assert.deepEqual(y.bootstrapUsers.map((u) => u.name), ['b']);
    assert.deepEqual(y.warnings.map((w) => w.message), [
      `${yamlFile}: key bootstrap_users[0].name is written twice (lines 3 and 4); the last one (line 4) is used`,
      `${yamlFile}: key port is written 3 times (lines 1, 5 and 6); the last one (line 6) is used`,
    ]);
    const jsonFile = path.join(dir, 'c.json');
    fs.writeFileSync(jsonFile, '{\n  "port": 1,\n  "bke": {\n    "turn_on_rbac": true,\n    "turn_on_rbac": false\n  }\n}\n');
    const j = loadConfig({ file: jsonFile, env: {}, cwd: dir });
    assert.equal(j.rbac.turnOnRbac, false);
    assert.deepEqual(j.warnings.map((w) => w.message), [`${jsonFile}: key bke.turn_on_rbac is written twice (lines 4 and 5); the last one (line 5) is used`]);
  });
});

/** What the logger writes for the configuration's warnings, one entry per line. */
function loggedWarnings(config: Pick<Config, 'warnings'>): { msg: string; keys: string[] }[] {
  const chunks: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => void (chunks.push(chunk.toString()), done()) });
  logConfigWarnings(config, createLogger('info', sink));
  return chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; keys: string[] });
}

describe('accepted but unused keys', () => {
  it('are listed all on one warning line, with the process-manager note once', () => {
    const { dir, file } = documented();
    const c = loadConfig({ file, env: ALLOW, cwd: dir });
    const lines = loggedWarnings(c).filter((l) => l.msg.includes('accepted without effect'));
    assert.equal(lines.length, 1);
    for (const key of c.unusedKeys) assert.ok(lines[0]!.msg.includes(key), key);
    assert.deepEqual(lines[0]!.keys, c.unusedKeys);
    assert.equal(lines[0]!.msg.match(/process manager/g)?.length, 1);
    assert.doesNotMatch(lines[0]!.msg, /app-secret-value/, 'values are never echoed');
  });

  it('keep unknown keys on a line of their own, and leave the note out when no log or pid key is present', () => {
    const dir = tempDir('bcs-api-unused-');
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, 'edition: ee\ntke:\n  secret_id: x\nsomething_new: 1\nother_typo: 2\n');
    const lines = loggedWarnings(loadConfig({ file, env: {}, cwd: dir }));
    assert.deepEqual(lines.map((l) => l.msg), [
      'configuration keys of the original bcs-api accepted without effect: edition, tke.secret_id',
      'configuration keys not known to this gateway (ignored): something_new, other_typo',
    ]);
  });
});

describe('log level from glog settings', () => {
  const level = (yaml: string, env: NodeJS.ProcessEnv = {}): string => {
    const dir = tempDir('bcs-api-log-');
    fs.writeFileSync(path.join(dir, 'c.yaml'), yaml);
    return loadConfig({ file: path.join(dir, 'c.yaml'), env, cwd: dir }).logLevel;
  };

  it('maps v onto pino levels', () => {
    assert.deepEqual([0, 1, 2, 4, 5, 9].map(levelFromVerbosity), ['info', 'debug', 'debug', 'debug', 'trace', 'trace']);
    assert.equal(level('log_config:\n  v: 3\n'), 'debug');
    assert.equal(level('log_config:\n  v: "6"\n'), 'trace');
    assert.equal(level('v: 2\n'), 'debug', 'the flat layout too');
    assert.equal(level('log_config:\n  logtostderr: true\n'), 'info', 'no v: info');
  });

  it('keeps the v level whatever logtostderr says: stdout stands for both stderr and the log files', () => {
    assert.equal(level('log_config:\n  logtostderr: false\n  alsologtostderr: false\n  v: 4\n'), 'debug');
    assert.equal(level('log_config:\n  logtostderr: true\n  v: 5\n'), 'trace');
  });

  it('lets log_level and BCS_API_LOG_LEVEL win over v, and names a bad v', () => {
    assert.equal(level('log_level: warn\nlog_config:\n  v: 5\n'), 'warn');
    assert.equal(level('log_config:\n  v: 5\n', { BCS_API_LOG_LEVEL: 'error' }), 'error');
    const dir = tempDir('bcs-api-log-');
    fs.writeFileSync(path.join(dir, 'c.yaml'), 'log_config:\n  v: -1\n');
    assert.match(problemsOf(() => loadConfig({ file: path.join(dir, 'c.yaml'), env: {}, cwd: dir })).join(), /^log_config\.v: /);
  });
});

describe('the same keys in the flat JSON layout', () => {
  it('map metric_port, client certificates and the web console port as the nested ones do', () => {
    const dir = tempDir('bcs-api-flat-');
    for (const name of ['client.crt', 'client.key']) fs.writeFileSync(path.join(dir, name), 'pem');
    const file = path.join(dir, 'bcs-api.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ address: '127.0.0.1', port: 9000, metric_port: 9001, client_cert_file: 'client.crt', client_key_file: 'client.key', mesos_webconsole_proxy_port: 8083, local_ip: '10.1.1.1', v: 1 }),
    );
    const c = loadConfig({ file, env: {}, cwd: dir });
    assert.deepEqual(c.metrics, { listener: { address: '127.0.0.1', port: 9001 }, onMainListener: true });
    assert.deepEqual(c.clientTls, { certFile: path.join(dir, 'client.crt'), keyFile: path.join(dir, 'client.key') });
    assert.equal(c.consoleProxyPort, 8083);
    assert.equal(c.localIp, '10.1.1.1');
    assert.equal(c.logLevel, 'debug');
    assert.deepEqual([...c.unusedKeys, ...c.ignoredKeys], []);
  });

  it('turns metrics off on the main listener with metrics.on_main_listener: false', () => {
    const dir = tempDir('bcs-api-metrics-');
    fs.writeFileSync(path.join(dir, 'c.yaml'), 'metrics:\n  port: 9100\n  on_main_listener: false\n');
    const c = loadConfig({ file: path.join(dir, 'c.yaml'), env: {}, cwd: dir });
    assert.deepEqual(c.metrics, { listener: { address: '127.0.0.1', port: 9100 }, onMainListener: false });
  });
});
