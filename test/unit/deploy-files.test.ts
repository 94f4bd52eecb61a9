import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ENV_OVERRIDES, loadConfig } from '../../src/config/load';
import { parseDockerfile } from '../helpers/deploy/dockerfile';
import { dockerFiles, parseYamlDocuments, readRepo, repoPath, ROOT, yamlDocuments } from '../helpers/deploy/files';

/**
 * Every file under docker/ is read by a parser here; the other deploy-* suites check what they say.
 * No container engine or hadolint exists on this machine: these parses are the lint.
 */
describe('every file under docker/', () => {
  it('parses: YAML without duplicate keys or warnings, the Dockerfile instruction by instruction, JavaScript with node --check', () => {
    const files = dockerFiles();
    assert.ok(files.includes('docker/Dockerfile') && files.includes('docker/compose.yaml'));
    for (const file of files) {
      if (file.endsWith('.yaml')) assert.ok(yamlDocuments(file).length >= 1, file);
      else if (file === 'docker/Dockerfile') assert.ok(parseDockerfile(readRepo(file)).stages.length >= 1);
      else if (file.endsWith('.js')) assert.equal(spawnSync(process.execPath, ['--check', repoPath(file)]).status, 0, file);
      else assert.fail(`${file}: no check reads this kind of file; add one to test/unit/deploy-files.test.ts`);
    }
  });

  it('the Dockerfile parser rejects what BuildKit would', () => {
    assert.throws(() => parseDockerfile('FROM node:20\nRUNN echo'), /unknown instruction RUNN/);
    assert.throws(() => parseDockerfile('COPY a b\nFROM node:20'), /before the first FROM/);
    assert.throws(() => parseDockerfile('FROM node:20\nCMD ["serve", 1]'), /not a list of strings/);
    assert.throws(() => parseDockerfile('FROM node:20\nRUN a \\'), /continuation at the end/);
  });

  it('YAML with a duplicate key or a syntax error fails', () => {
    assert.throws(() => parseYamlDocuments('a: 1\nb: 2\na: 3\n', 'dup.yaml'), /dup\.yaml: .*unique/i);
    assert.throws(() => parseYamlDocuments('a: [1, 2\n', 'bad.yaml'), /bad\.yaml/);
  });
});

describe('docker/config.example.yaml', () => {
  it('is accepted by the loader, with no ignored keys and no secret in it', () => {
    const config = loadConfig({ file: repoPath('docker/config.example.yaml'), env: {}, cwd: ROOT });
    assert.deepEqual(config.ignoredKeys, []);
    assert.deepEqual(config.plain, { address: '0.0.0.0', port: 8080 });
    assert.equal(config.tls, undefined);
    assert.equal(config.database.dialect, 'sqlite', 'the DSN (and its password) is left to $BCS_API_DSN');
    assert.equal(config.zookeeper, 'zookeeper:2181');
    assert.deepEqual(config.encryption, { keyFile: '/var/lib/bcs-api/keyring.json' });
  });

  it('documents exactly the environment overrides the loader reads', () => {
    const documented = new Set(readRepo('docker/config.example.yaml').match(/\bBCS_API_[A-Z_]+\b/g));
    assert.deepEqual([...documented].sort(), Object.keys(ENV_OVERRIDES).sort(), 'keep the header comment of docker/config.example.yaml in step with ENV_OVERRIDES');
  });
});
