import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load';
import { tempDir } from '../helpers/app';
import { problemsOf } from '../helpers/config-problems';

const SECRET = 'a3f1'.repeat(16);
const ORIGINAL_DEFAULT = 'Mx9vWfTZea4MEzc7SlvB8aFl0NhmYQvZzEomOYypDMKkev34Q9kIyh32RjXXCIcn';

function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const dir = tempDir('bcs-api-peering-');
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, yaml);
  return loadConfig({ file, env, cwd: dir });
}

describe('peering configuration', () => {
  it('is on with ZooKeeper and a secret file; the secret is read from the file', () => {
    const dir = tempDir('bcs-api-peering-secret-');
    fs.writeFileSync(path.join(dir, 'secret'), `${SECRET}\n`);
    const c = load(`bcs_zookeeper: 127.0.0.1:2181\npeering:\n  secret_file: ${path.join(dir, 'secret')}\n  server_name: bcs-api.local\n`);
    assert.equal(c.peering?.secret, SECRET);
    assert.equal(c.peering?.serverName, 'bcs-api.local');
    assert.ok(!c.warnings.some((w) => w.message.includes('peering')));
  });

  it("reads the original's peer_token key as the secret", () => {
    assert.equal(load(`bcs_zookeeper: 127.0.0.1:2181\npeer_token: ${SECRET}\n`).peering?.secret, SECRET);
  });

  it('is off with one warning when ZooKeeper is configured without a secret (there is no default)', () => {
    const c = load('bcs_zookeeper: 127.0.0.1:2181\n');
    assert.equal(c.peering, undefined);
    assert.equal(c.warnings.filter((w) => w.message.includes('no peering secret')).length, 1);
  });

  it('refuses peering asked for without a secret or without ZooKeeper', () => {
    assert.match(problemsOf(() => load('bcs_zookeeper: 127.0.0.1:2181\npeering:\n  enabled: true\n')).join('\n'), /peering\.enabled: peering needs a shared secret/);
    assert.match(problemsOf(() => load(`peering:\n  enabled: true\n  secret: ${SECRET}\n`)).join('\n'), /peering\.enabled: .*ZooKeeper/);
  });

  it("refuses the original's published default token and short secrets", () => {
    assert.match(problemsOf(() => load(`bcs_zookeeper: 127.0.0.1:2181\npeer_token: ${ORIGINAL_DEFAULT}\n`)).join('\n'), /peer_token: this is the original's built-in default/);
    assert.match(problemsOf(() => load('bcs_zookeeper: 127.0.0.1:2181\npeering:\n  secret: short\n')).join('\n'), /peering\.secret: at least 32 characters/);
  });

  it('takes the secret from the environment', () => {
    assert.equal(load('bcs_zookeeper: 127.0.0.1:2181\n', { BCS_API_PEERING_SECRET: SECRET }).peering?.secret, SECRET);
  });
});
