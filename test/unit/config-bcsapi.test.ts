import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { tempDir } from '../helpers/app';

function load(yaml: string, files: Record<string, string> = {}): ReturnType<typeof loadConfig> {
  const dir = tempDir('bcs-api-config-bcsapi-');
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  fs.writeFileSync(path.join(dir, 'c.yaml'), yaml);
  return loadConfig({ file: path.join(dir, 'c.yaml'), env: {}, cwd: dir });
}

function problems(yaml: string, files: Record<string, string> = {}): string {
  try {
    load(yaml, files);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  return assert.fail('expected a ConfigError');
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('/bcsapi settings', () => {
  it('reads the API gateway key at start, and names the key when the file is missing or not an RSA public key', () => {
    const c = load('bkiam_auth:\n  apigw_rsa_file: apigw.pub\n', { 'apigw.pub': rsa });
    assert.equal(c.apigwJwtKey?.pem, rsa);
    assert.match(problems('bkiam_auth:\n  apigw_rsa_file: missing.pub\n'), /^bkiam_auth\.apigw_rsa_file: cannot read missing\.pub: ENOENT$/m);
    assert.match(problems('bkiam_auth:\n  apigw_rsa_file: k.pem\n', { 'k.pem': 'hello' }), /bkiam_auth\.apigw_rsa_file: k\.pem is not a PEM public key or certificate/);
    assert.match(problems('bkiam_auth:\n  apigw_rsa_file: k.pem\n', { 'k.pem': ec }), /holds a ec key; the API gateway signs with RSA/);
  });

  it('leaves the key unread with bkiam_auth.auth: false, listing it as unused', () => {
    const c = load('bkiam_auth:\n  auth: false\n  apigw_rsa_file: /nowhere/apigw.pub\n');
    assert.equal(c.apigwJwtKey, undefined);
    assert.deepEqual(c.unusedKeys, ['bkiam_auth.apigw_rsa_file']);
    assert.equal(load('bkiam_auth:\n  auth: true\n  apigw_rsa_file: a.pub\n', { 'a.pub': rsa }).apigwJwtKey?.pem, rsa);
  });

  it('takes webconsole.allowed_networks as CIDRs or addresses, naming a bad entry', () => {
    assert.deepEqual(load('webconsole:\n  allowed_networks: [10.1.0.0/16, 127.0.0.1, "fd00::/8"]\n').webconsole.allowedNetworks, ['10.1.0.0/16', '127.0.0.1', 'fd00::/8']);
    assert.equal(load('port: 8080\n').webconsole.allowedNetworks, undefined);
    const text = problems('webconsole:\n  allowed_networks: [10.0.0.0/8, console.example, 10.0.0.0/33]\n');
    assert.match(text, /webconsole\.allowed_networks\[1\]: "console\.example" is not an IP network/);
    assert.match(text, /webconsole\.allowed_networks\[2\]: "10\.0\.0\.0\/33" is not an IP network/);
  });
});
