/**
 * The test command: checks that the real services the suites need are reachable (failing with how to
 * install them, never skipping), then runs every compiled *.test.js under Node's test runner.
 * Usage: node dist/test/run.js [substring filter...]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createConnection } from 'mysql2/promise';
import { mysqlServer } from './helpers/db';

function findTests(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return findTests(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

async function checkMysql(): Promise<string | undefined> {
  const s = mysqlServer();
  try {
    const c = await createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, connectTimeout: 5000 });
    await c.query('SELECT 1');
    await c.end();
    return undefined;
  } catch (err) {
    return (
      `MariaDB/MySQL is not reachable at ${s.host}:${s.port} as ${s.user} (${(err as Error).message}).\n` +
      '  The MariaDB suites do not skip. Install and start it, e.g.:\n' +
      '    apt-get install -y mariadb-server && start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd\n' +
      '  or point BCS_API_TEST_MYSQL at a server (mysql://user:pass@host:3306/mysql) where that user may create databases.'
    );
  }
}

async function main(): Promise<number> {
  const problem = await checkMysql();
  if (problem) {
    process.stderr.write(`\n${problem}\n\n0 passed, 1 failed\n`);
    return 1;
  }
  const filters = process.argv.slice(2);
  const files = findTests(__dirname)
    .filter((f) => !filters.length || filters.some((x) => f.includes(x)))
    .sort();
  if (!files.length) {
    process.stderr.write('no test files matched\n');
    return 1;
  }
  const res = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
  return res.status ?? 1;
}

main().then((code) => process.exit(code));
