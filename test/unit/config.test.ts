import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseMysqlDsn } from '../../src/config/dsn';
import { loadConfig } from '../../src/config/load';
import { tempDir } from '../helpers/app';
import { problemsOf } from '../helpers/config-problems';

function writeConfig(name: string, content: string): { file: string; dir: string } {
  const dir = tempDir('bcs-api-config-');
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return { file, dir };
}

describe('mysql DSN parsing', () => {
  it('reads the Go driver form the original used', () => {
    assert.deepEqual(parseMysqlDsn('bcs:s3cr:et@tcp(10.0.0.5:3307)/bcs_api?charset=utf8&parseTime=True&loc=Local'), {
      host: '10.0.0.5',
      port: 3307,
      user: 'bcs',
      password: 's3cr:et',
      dbName: 'bcs_api',
    });
  });
  it('reads mysql:// URLs', () => {
    assert.deepEqual(parseMysqlDsn('mysql://root:p%40ss@db:3306/gw'), { host: 'db', port: 3306, user: 'root', password: 'p@ss', dbName: 'gw' });
  });
  it('names the problem of a DSN without a database', () => {
    assert.match(String(parseMysqlDsn('root@tcp(127.0.0.1:3306)/')), /database/);
  });
});

const pick = ({ idleConnectionSeconds, idleH2SessionSeconds }: { idleConnectionSeconds: number; idleH2SessionSeconds: number }) => ({ idleConnectionSeconds, idleH2SessionSeconds });

describe('configuration loading', () => {
  it('runs with no file on 127.0.0.1:8080 with SQLite under ./data', () => {
    const dir = tempDir();
    const c = loadConfig({ env: {}, cwd: dir });
    assert.deepEqual(c.plain, { address: '127.0.0.1', port: 8080 });
    assert.equal(c.tls, undefined);
    assert.deepEqual(c.database, { dialect: 'sqlite', path: path.join(dir, 'data', 'bcs-api.sqlite') });
    assert.deepEqual(c.encryption, { keyFile: path.join(dir, 'data', 'keyring.json') });
    assert.equal(c.rbac.turnOnRbac, true);
  });

  it("accepts the original's flat JSON layout", () => {
    const { file, dir } = writeConfig(
      'bcs-api.json',
      JSON.stringify({
        address: '127.0.0.1',
        port: 9443,
        insecure_address: '127.0.0.1',
        insecure_port: 9080,
        log_dir: './logs',
        edition: 'ieod',
        bke: {
          mysql_dsn: 'root:pw@tcp(127.0.0.1:3306)/bke?parseTime=True',
          bootstrap_users: [{ name: 'admin', is_super_user: true, tokens: ['tok-1'] }],
          turn_on_rbac: false,
          turn_on_conf: true,
          rbac_data: [{ user_name: 'plain:alice', cluster_id: 'BCS-K8S-001', roles: ['cluster-readonly'] }],
        },
      }),
    );
    const c = loadConfig({ file, env: {}, cwd: dir });
    assert.equal(c.database.dialect, 'mysql');
    assert.deepEqual(c.database.dialect === 'mysql' && c.database.target, { host: '127.0.0.1', port: 3306, user: 'root', password: 'pw', dbName: 'bke' });
    assert.deepEqual(c.plain, { address: '127.0.0.1', port: 9080 });
    assert.deepEqual(c.bootstrapUsers, [{ name: 'admin', isSuperUser: true, groups: [], tokens: ['tok-1'] }]);
    assert.equal(c.rbac.turnOnRbac, false);
    assert.equal(c.rbac.turnOnConf, true);
    assert.deepEqual(c.rbac.rbacData, [{ userName: 'plain:alice', clusterId: 'BCS-K8S-001', roles: ['cluster-readonly'] }]);
    assert.deepEqual(c.ignoredKeys, []);
  });

  it('accepts the YAML layout of the original docs', () => {
    const { file, dir } = writeConfig(
      'bcs-api.yaml',
      [
        'service_config:',
        '  address: 127.0.0.1',
        '  port: 8443',
        'core_database:',
        '  dsn: "mysql://gw:pw@db.internal:3306/bcs"',
        'rbac:',
        '  turn_on_rbac: true',
        '  turn_on_auth: false',
        'bootstrap_users:',
        '  - name: admin',
        '    is_super_user: true',
        'something_new: 1',
      ].join('\n'),
    );
    const c = loadConfig({ file, env: {}, cwd: dir });
    assert.equal(c.database.dialect === 'mysql' && c.database.target.host, 'db.internal');
    assert.deepEqual(c.plain, { address: '127.0.0.1', port: 8443 });
    assert.deepEqual(c.ignoredKeys, ['something_new']);
  });

  it('lets environment variables override the file', () => {
    const { file, dir } = writeConfig('c.yaml', 'port: 9000\nlog_level: debug\n');
    const c = loadConfig({ file, env: { BCS_API_PORT: '9100', BCS_API_LOG_LEVEL: 'warn' }, cwd: dir });
    assert.equal(c.plain?.port, 9100);
    assert.equal(c.logLevel, 'warn');
  });

  it('reads how long idle apiserver connections are kept, 30 s and 120 s by default, refusing zero', () => {
    const dir = tempDir();
    assert.deepEqual(pick(loadConfig({ env: {}, cwd: dir }).proxy), { idleConnectionSeconds: 30, idleH2SessionSeconds: 120 });
    const { file } = writeConfig('idle.yaml', 'proxy:\n  idle_connection_seconds: 2\n  idle_h2_session_seconds: 3\n');
    assert.deepEqual(pick(loadConfig({ file, env: {}, cwd: dir }).proxy), { idleConnectionSeconds: 2, idleH2SessionSeconds: 3 });
    const bad = writeConfig('idle-bad.yaml', 'proxy:\n  idle_connection_seconds: 0\n  idle_h2_session_seconds: soon\n');
    const text = problemsOf(() => loadConfig({ file: bad.file, env: {}, cwd: bad.dir })).join('\n');
    assert.match(text, /^proxy\.idle_connection_seconds: /m);
    assert.match(text, /^proxy\.idle_h2_session_seconds: /m);
  });

  it('reads proxy.workers as a count or auto (the usable cores), 1 by default, with no warning (workers share agent tunnels)', () => {
    const dir = tempDir();
    const alone = loadConfig({ env: {}, cwd: dir });
    assert.equal(alone.proxy.workers, 1);
    assert.ok(!alone.warnings.some((w) => w.keys.includes('proxy.workers')));
    const three = loadConfig({ file: writeConfig('w3.yaml', 'proxy:\n  workers: 3\n').file, env: {}, cwd: dir });
    assert.equal(three.proxy.workers, 3);
    assert.ok(!three.warnings.some((w) => w.keys.includes('proxy.workers')));
    assert.equal(loadConfig({ file: writeConfig('wa.yaml', 'proxy:\n  workers: auto\n').file, env: {}, cwd: dir }).proxy.workers, os.availableParallelism());
    const bad = writeConfig('w0.yaml', 'proxy:\n  workers: 0\n');
    assert.match(problemsOf(() => loadConfig({ file: bad.file, env: {}, cwd: bad.dir })).join('\n'), /^proxy\.workers: /m);
  });

  it('lists every problem, naming the key as written', () => {
    const { file, dir } = writeConfig(
      'bad.yaml',
      ['port: 70000', 'core_database:', '  dsn: "root@tcp(127.0.0.1:3306)/"', 'server_cert_file: /nonexistent/cert.pem', 'bootstrap_users:', '  - is_super_user: true', 'log_level: loud'].join('\n'),
    );
    const problems = problemsOf(() => loadConfig({ file, env: {}, cwd: dir }));
    const text = problems.join('\n');
    assert.match(text, /^port: .*65535/m);
    assert.match(text, /core_database\.dsn: names no database/);
    assert.match(text, /server_cert_file and server_key_file must be set together/);
    assert.match(text, /server_cert_file: file \/nonexistent\/cert\.pem does not exist/);
    assert.match(text, /bootstrap_users\[0\]\.name: /);
    assert.match(text, /log_level: /);
  });

  it('reads the module passthrough deadlines and the upstream CA, and refuses bad deadlines', () => {
    const ca = writeConfig('ca.pem', 'not parsed here');
    const { file, dir } = writeConfig('m.yaml', ['modules:', '  connect_timeout_seconds: 2', '  response_timeout_seconds: 45', `cert_config:`, `  ca_file: ${ca.file}`].join('\n'));
    const c = loadConfig({ file, env: {}, cwd: dir });
    assert.deepEqual(c.modules, { connectTimeoutSeconds: 2, responseTimeoutSeconds: 45 });
    assert.equal(c.upstreamCaFile, ca.file);
    assert.deepEqual(loadConfig({ env: {} }).modules, { connectTimeoutSeconds: 5, responseTimeoutSeconds: 30 });
    const bad = writeConfig('bad.yaml', 'modules:\n  connect_timeout_seconds: 0\n  response_timeout_seconds: soon\n');
    const text = problemsOf(() => loadConfig({ file: bad.file, env: {}, cwd: bad.dir })).join('\n');
    assert.match(text, /^modules\.connect_timeout_seconds: /m);
    assert.match(text, /^modules\.response_timeout_seconds: /m);
  });

  it('refuses a plain listener on a non-loopback address unless allowed', () => {
    const { file, dir } = writeConfig('c.yaml', 'address: 0.0.0.0\n');
    assert.match(problemsOf(() => loadConfig({ file, env: {}, cwd: dir })).join(), /clear text/);
    const ok = loadConfig({ file, env: { BCS_API_ALLOW_INSECURE_LISTENER: 'true' }, cwd: dir });
    assert.equal(ok.plain?.address, '0.0.0.0');
  });

  it('reports unreadable and malformed files clearly', () => {
    assert.match(problemsOf(() => loadConfig({ file: '/nonexistent/bcs.yaml', env: {} })).join(), /cannot read config file \/nonexistent\/bcs\.yaml: ENOENT/);
    const { file } = writeConfig('broken.json', '{"port": ');
    assert.match(problemsOf(() => loadConfig({ file, env: {} })).join(), /is not valid JSON/);
  });

  it('validates configured encryption keys', () => {
    const { file, dir } = writeConfig('k.yaml', `encryption:\n  keys:\n    - id: old\n      key: ${Buffer.alloc(16).toString('base64')}\n  primary: missing\n`);
    const text = problemsOf(() => loadConfig({ file, env: {}, cwd: dir })).join('\n');
    assert.match(text, /encryption\.keys\[0\]\.key: must be 32 bytes/);
    assert.match(text, /encryption\.primary: no key with id "missing"/);
  });
});
