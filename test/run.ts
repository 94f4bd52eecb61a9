/**
 * The test command: checks that the real services the suites need are reachable (failing with how to
 * install them, never skipping), then runs every compiled *.test.js under Node's test runner.
 * Usage: node dist/test/run.js [substring filter...]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { checkKubectl, ensureDebianPackages, ensureMysql } from './prereqs';

function findTests(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return findTests(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

async function main(): Promise<number> {
  const problems = [...ensureDebianPackages(), checkKubectl(), await ensureMysql()].filter((p): p is string => Boolean(p));
  if (problems.length) {
    process.stderr.write(`\nThe tests need real services and tools that are missing:\n  - ${problems.join('\n  - ')}\n\n0 passed, ${problems.length} failed\n`);
    return 1;
  }
  const filters = process.argv.slice(2);
  const files = findTests(__dirname)
    // Filters match the path under the test directory, so a checkout's own directory name never matches them.
    .filter((f) => !filters.length || filters.some((x) => path.relative(__dirname, f).includes(x)))
    .sort();
  if (!files.length) {
    process.stderr.write('no test files matched\n');
    return 1;
  }
  const res = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
  return res.status ?? 1;
}

main().then((code) => process.exit(code));
