import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AGENT_USAGE } from '../../src/agent/options';
import { USAGE } from '../../src/cli/usage';
import { ROOT } from '../helpers/deploy/files';

/**
 * The package as npm ships it: `npm pack` of this checkout (compiled by the test build), installed into
 * a temp project the way a user's `npm install bcs-api-x.tgz` would (npm ci of a lock that names the
 * tarball and this repository's locked production dependencies: offline, from the npm cache), and its
 * bin run as a user would run it. Install scripts are skipped, so the native addons are not compiled:
 * the commands run here (--help) load neither; the image's build stage compiles them.
 */

interface PackResult {
  filename: string;
  files: { path: string; mode: number }[];
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
};

function npm(args: string[], cwd: string): string {
  const res = spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  assert.equal(res.status, 0, `npm ${args.join(' ')}: ${res.stderr}`);
  return res.stdout;
}

describe('the npm package (npm pack, installed offline, its bin run)', () => {
  let tmp = '';
  let packed: PackResult;
  const shipped = (): Set<string> => new Set(packed.files.map((f) => f.path));

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-pack-'));
    packed = (JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT)) as PackResult[])[0]!;
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('ships the compiled code, the migrations and the bin, and no tests, TypeScript sources or docker files', () => {
    const files = shipped();
    for (const f of ['package.json', 'README.md', pkg.bin['bcs-api']!]) assert.ok(files.has(f), f);
    for (const dialect of ['mysql', 'sqlite']) {
      const sources = fs.readdirSync(path.join(ROOT, 'migrations', dialect)).filter((f) => /^Migration.*\.ts$/.test(f));
      assert.ok(sources.length > 0);
      for (const ts of sources) {
        assert.ok(files.has(`dist/migrations/${dialect}/${ts.replace(/\.ts$/, '.js')}`), `compiled ${dialect}/${ts}`);
        assert.ok(files.has(`migrations/${dialect}/${ts}`), `${dialect}/${ts} for migrate --check`);
      }
      assert.ok(files.has(`migrations/${dialect}/.snapshot-bcs-api.json`));
    }
    const unwanted = [...files].filter((f) => /^(dist\/test|test|src|proxy|docker)\//.test(f) || f.endsWith('.tsbuildinfo'));
    assert.deepEqual(unwanted, []);
  });

  it('every module the shipped code requires is shipped or a production dependency', () => {
    const files = shipped();
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    for (const file of [...files].filter((f) => f.endsWith('.js'))) {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      for (const [, spec] of text.matchAll(/\brequire\("([^"]+)"\)/g)) {
        if (spec!.startsWith('.')) {
          const base = path.posix.join(path.posix.dirname(file), spec!);
          if (![base, `${base}.js`, `${base}.json`, `${base}/index.js`].some((c) => files.has(c))) problems.push(`${file}: ${spec} is not shipped`);
        } else if (!spec!.startsWith('node:') && !builtins.has(spec!)) {
          const name = spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!;
          if (!(name in pkg.dependencies)) problems.push(`${file}: ${name} is not a production dependency`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('installs offline into an empty project and runs `bcs-api --help` and `bcs-api agent --help`', (t) => {
    const project = path.join(tmp, 'project');
    fs.mkdirSync(project);
    const tarball = `file:${path.relative(project, path.join(tmp, packed.filename))}`;
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const root = { name: 'bcs-api-consumer', version: '1.0.0', private: true, dependencies: { [pkg.name]: tarball } };
    const packages: Record<string, unknown> = {
      '': root,
      [`node_modules/${pkg.name}`]: { version: pkg.version, resolved: tarball, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
    };
    for (const [p, entry] of Object.entries(lock.packages)) if (p && !entry.dev) packages[p] = entry;
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(root));
    fs.writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify({ ...root, lockfileVersion: 3, requires: true, packages }));

    const started = Date.now();
    npm(['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], project);
    t.diagnostic(`npm ci of the packed tarball (offline): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(!fs.existsSync(path.join(project, 'node_modules', 'typescript')), 'no dev dependency installed');

    // The bin npm linked, run through its shebang with the node running these tests.
    const bin = path.join(project, 'node_modules', '.bin', 'bcs-api');
    const env = { PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH']}` };
    const help = spawnSync(bin, ['--help'], { cwd: project, env, encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.equal(help.stdout, `${USAGE}\n`);
    const agent = spawnSync(bin, ['agent', '--help'], { cwd: project, env, encoding: 'utf8' });
    assert.equal(agent.status, 0, agent.stderr);
    assert.ok(agent.stdout.includes(AGENT_USAGE), agent.stdout);
    assert.equal(fs.realpathSync(bin), path.join(fs.realpathSync(project), 'node_modules', pkg.name, pkg.bin['bcs-api']!));
  });
});
