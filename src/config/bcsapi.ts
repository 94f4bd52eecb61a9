import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from './config';
import { bool, nonEmpty, type SettingReader } from './settings';

/** `10.0.0.0/8`, `fd00::/8`, or a bare address (one host). */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', bits, ...rest] = text.trim().split('/');
  const version = isIP(address);
  if (!version || rest.length) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const cidrList = z.array(z.string()).superRefine((list, ctx) => {
  list.forEach((item, i) => {
    if (!parseCidr(item)) ctx.addIssue({ code: 'custom', path: [i], message: `"${item}" is not an IP network (write it as 10.0.0.0/8 or an address)` });
  });
});

type BcsapiSettings = Pick<Config, 'webconsole' | 'apigwJwtKey'> & {
  /** Keys read but switched off by another key, to list with the original's unused keys. */
  inert: string[];
};

/**
 * The `/bcsapi` surfaces' own settings: the web console's dialable networks and the API gateway's JWT
 * key. The key file is read here, once, so a missing or malformed file stops the start naming the key.
 * `bkiam_auth.auth: false` (what the original's documented file says) leaves the key unread, as the
 * original did; the gateway's own tokens are required either way.
 */
export function readBcsapiSettings(s: SettingReader, cwd: string): BcsapiSettings {
  const allowedNetworks = s.get('webconsoleAllowedNetworks', cidrList);
  const inert: string[] = [];
  let apigwJwtKey: BcsapiSettings['apigwJwtKey'];
  const bkiamAuth = s.get('bkiamAuth', bool);
  const file = s.get('apigwRsaFile', nonEmpty);
  if (file && bkiamAuth === false) inert.push(s.keyOf('apigwRsaFile'));
  else if (file) {
    const key = s.keyOf('apigwRsaFile');
    const resolved = path.resolve(cwd, file);
    let pem: string | undefined;
    try {
      pem = fs.readFileSync(resolved, 'utf8');
    } catch (err) {
      s.problems.push(`${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (pem !== undefined) {
      try {
        const publicKey = createPublicKey(pem);
        if (publicKey.asymmetricKeyType !== 'rsa') s.problems.push(`${key}: ${file} holds a ${publicKey.asymmetricKeyType} key; the API gateway signs with RSA`);
        else apigwJwtKey = { file: resolved, pem };
      } catch {
        s.problems.push(`${key}: ${file} is not a PEM public key or certificate`);
      }
    }
  }
  return { webconsole: { allowedNetworks }, apigwJwtKey, inert };
}
