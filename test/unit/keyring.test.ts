import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Keyring, loadOrCreateKeyFile } from '../../src/crypto/keyring';
import { digestsEqual, newApiToken, newRegisterToken, randomAlphanumeric, sha256Hex, tokenHint } from '../../src/crypto/tokens';
import { tempDir } from '../helpers/app';

const key = (): Buffer => crypto.randomBytes(32);

describe('keyring', () => {
  it('seals with the primary key and names it in the envelope', () => {
    const ring = new Keyring([{ id: 'k1', key: key() }], 'k1');
    const sealed = ring.seal('secret-value', 'cluster:A');
    assert.ok(!sealed.includes('secret-value'));
    assert.equal(Keyring.keyIdOf(sealed), 'k1');
    assert.equal(ring.open(sealed, 'cluster:A'), 'secret-value');
    assert.notEqual(ring.seal('secret-value', 'cluster:A'), sealed, 'a fresh IV every time');
  });

  it('keeps old values readable after rotation to a new primary key', () => {
    const k1 = key();
    const old = new Keyring([{ id: 'k1', key: k1 }], 'k1').seal('v', 'a');
    const rotated = new Keyring([{ id: 'k1', key: k1 }, { id: 'k2', key: key() }], 'k2');
    assert.equal(rotated.open(old, 'a'), 'v');
    assert.equal(Keyring.keyIdOf(rotated.seal('v', 'a')), 'k2');
  });

  it('refuses a value moved to another owner, tampered, or sealed with an unknown key', () => {
    const ring = new Keyring([{ id: 'k1', key: key() }], 'k1');
    const sealed = ring.seal('v', 'cluster:A');
    assert.throws(() => ring.open(sealed, 'cluster:B'));
    const parts = sealed.split(':');
    parts[4] = Buffer.from('x').toString('base64url');
    assert.throws(() => ring.open(parts.join(':'), 'cluster:A'));
    const other = new Keyring([{ id: 'k9', key: key() }], 'k9');
    assert.throws(() => other.open(sealed, 'cluster:A'), /key "k1", which is not in the keyring/);
  });

  it('creates the embedded key file once, with mode 0600', () => {
    const file = path.join(tempDir(), 'data', 'keyring.json');
    const first = loadOrCreateKeyFile(file);
    assert.equal(first.created, true);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const sealed = first.keyring.seal('v', 'a');
    const second = loadOrCreateKeyFile(file);
    assert.equal(second.created, false);
    assert.equal(second.keyring.open(sealed, 'a'), 'v');
  });

  it('refuses a key file other users can read', () => {
    const file = path.join(tempDir(), 'keyring.json');
    loadOrCreateKeyFile(file);
    fs.chmodSync(file, 0o644);
    assert.throws(() => loadOrCreateKeyFile(file), /readable by other users/);
  });
});

describe('token material', () => {
  it('API tokens carry a prefix and at least 128 bits', () => {
    const t = newApiToken();
    assert.match(t, /^bcs_[A-Za-z0-9]{32}$/);
    assert.ok(32 * Math.log2(62) >= 128);
    assert.notEqual(newApiToken(), t);
    assert.equal(tokenHint(t), `bcs_…${t.slice(-4)}`);
  });
  it('register tokens keep the original 128-character shape', () => {
    assert.match(newRegisterToken(), /^[A-Za-z0-9]{128}$/);
  });
  it('random strings use the whole alphabet', () => {
    const seen = new Set(randomAlphanumeric(20000));
    assert.equal(seen.size, 62);
  });
  it('digests compare in constant time and only when equal', () => {
    assert.equal(digestsEqual(sha256Hex('a'), sha256Hex('a')), true);
    assert.equal(digestsEqual(sha256Hex('a'), sha256Hex('b')), false);
    assert.equal(digestsEqual(sha256Hex('a'), 'abcd'), false);
  });
});
