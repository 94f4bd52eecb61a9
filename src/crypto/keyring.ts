import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const ENVELOPE_PREFIX = 'enc1';

export interface KeyringKey {
  id: string;
  key: Buffer;
}

/**
 * AES-256-GCM under named keys. Each stored value carries the id of the key that sealed it
 * (`enc1:<key id>:<iv>:<tag>:<ciphertext>`, base64url parts), so keys can rotate: new values use the
 * primary key and old ones stay readable while their key is still listed.
 */
export class Keyring {
  private readonly keys: Map<string, Buffer>;

  constructor(
    keys: KeyringKey[],
    readonly primaryId: string,
  ) {
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    if (!this.keys.has(primaryId)) throw new Error(`keyring has no key "${primaryId}"`);
    for (const [id, key] of this.keys) if (key.length !== 32) throw new Error(`key ${id} is not 32 bytes`);
  }

  /** `aad` binds a value to its owner (e.g. a cluster id) so a sealed value cannot be moved to another row. */
  seal(plaintext: string, aad: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.keys.get(this.primaryId)!, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [ENVELOPE_PREFIX, this.primaryId, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join(':');
  }

  open(sealed: string, aad: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 5 || parts[0] !== ENVELOPE_PREFIX) throw new Error('value is not an encrypted envelope');
    const [, keyId, iv, tag, ct] = parts as [string, string, string, string, string];
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`value was sealed with key "${keyId}", which is not in the keyring`);
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  static keyIdOf(sealed: string): string | undefined {
    const parts = sealed.split(':');
    return parts[0] === ENVELOPE_PREFIX ? parts[1] : undefined;
  }
}

interface KeyFile {
  primary: string;
  keys: { id: string; key: string }[];
}

/**
 * Loads the embedded default keyring file, creating it (mode 0600) on first start. Returns whether it was
 * created so the caller can tell the operator where the key lives.
 */
export function loadOrCreateKeyFile(file: string): { keyring: Keyring; created: boolean } {
  let created = false;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const content: KeyFile = { primary: 'k1', keys: [{ id: 'k1', key: crypto.randomBytes(32).toString('base64') }] };
    try {
      fs.writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) throw new Error(`key file ${file} is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${file}`);
  let parsed: KeyFile;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as KeyFile;
  } catch (err) {
    throw new Error(`key file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed.keys) || !parsed.keys.length) throw new Error(`key file ${file} lists no keys`);
  const keys = parsed.keys.map((k) => ({ id: String(k.id), key: Buffer.from(String(k.key), 'base64') }));
  return { keyring: new Keyring(keys, parsed.primary ?? keys[0]!.id), created };
}
