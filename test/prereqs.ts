import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createConnection } from 'mysql2/promise';
import { mysqlServer } from './helpers/db';

/** Debian packages the suites need, and the command each provides. */
const DEBIAN_PACKAGES: { pkg: string; command: string; why: string }[] = [
  { pkg: 'chromium', command: 'chromium', why: 'the GraphiQL browser test' },
  { pkg: 'openssl', command: 'openssl', why: 'test certificates' },
  { pkg: 'zookeeper', command: '/usr/share/java/zookeeper.jar', why: 'the ZooKeeper discovery tests (test/helpers/zookeeper.ts runs its ZooKeeperServerMain)' },
];

const has = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * A fresh machine gets only the repo: as root with apt, install what is missing (saying so); otherwise
 * report how to install it. Never skips a suite.
 */
export function ensureDebianPackages(): string[] {
  const missing = DEBIAN_PACKAGES.filter((p) => !has(p.command));
  if (!missing.length) return [];
  const names = missing.map((p) => p.pkg);
  if (isRoot() && has('apt-get')) {
    process.stderr.write(`installing Debian packages the tests need: ${names.join(' ')}\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], { stdio: 'inherit', env });
  }
  return DEBIAN_PACKAGES.filter((p) => !has(p.command)).map((p) => `${p.command} is missing (needed for ${p.why}): apt-get install -y ${p.pkg}`);
}

export function checkKubectl(): string | undefined {
  const r = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'kubectl 1.30 or newer is not on PATH (the tunnel tests drive the real client); install it from the Kubernetes apt repository (pkgs.k8s.io)';
  const minor = Number(JSON.parse(r.stdout).clientVersion?.minor?.replace(/\D/g, '') ?? 0);
  return minor >= 30 ? undefined : `kubectl 1.${minor} is too old (WebSocket exec needs 1.30 or newer)`;
}

async function mysqlReachable(): Promise<string | undefined> {
  const s = mysqlServer();
  try {
    const c = await createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, connectTimeout: 3000 });
    await c.query('SELECT 1');
    await c.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** MariaDB must answer; a local, installed but stopped server is started (as the machine's own start command does). */
export async function ensureMysql(): Promise<string | undefined> {
  let problem = await mysqlReachable();
  if (!problem) return undefined;
  const s = mysqlServer();
  const local = s.host === '127.0.0.1' || s.host === 'localhost';
  if (local && isRoot() && fs.existsSync('/usr/sbin/mariadbd')) {
    process.stderr.write('MariaDB is not answering; starting /usr/sbin/mariadbd\n');
    spawnSync('install', ['-d', '-o', 'mysql', '-g', 'mysql', '/run/mysqld']);
    spawnSync('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd'], { stdio: 'inherit' });
    for (let i = 0; i < 60 && problem; i += 1) {
      await new Promise((r) => setTimeout(r, 1000));
      problem = await mysqlReachable();
    }
  }
  if (!problem) return undefined;
  return (
    `MariaDB/MySQL is not reachable at ${s.host}:${s.port} as ${s.user} (${problem}).\n` +
    '  The MariaDB suites do not skip. Install and start it, e.g.:\n' +
    '    apt-get install -y mariadb-server && start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd\n' +
    '  or point BCS_API_TEST_MYSQL at a server (mysql://user:pass@host:3306/mysql) where that user may create databases.'
  );
}
