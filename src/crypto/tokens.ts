import crypto from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Uniform random string over [A-Za-z0-9] (rejection sampling, no modulo bias). */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.randomBytes(length * 2)) {
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** API tokens: recognisable prefix (so secret scanners can find leaks) and 32 random characters (~190 bits). */
export const API_TOKEN_PREFIX = 'bcs_';

export function newApiToken(): string {
  return API_TOKEN_PREFIX + randomAlphanumeric(32);
}

/** Register tokens keep the original's 128-character shape, which bcs-kube-agent deployments expect. */
export function newRegisterToken(): string {
  return randomAlphanumeric(128);
}

/** One-shot `crypto.hash`: a third of createHash's cost, and the proxy hashes the token of every request. */
export function sha256Hex(value: string): string {
  return crypto.hash('sha256', value, 'hex');
}

/** Constant-time comparison of two hex digests of equal length. */
export function digestsEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

/** What is safe to show of a token after creation: its prefix and last four characters. */
export function tokenHint(token: string): string {
  return `${token.slice(0, token.startsWith(API_TOKEN_PREFIX) ? API_TOKEN_PREFIX.length : 0)}…${token.slice(-4)}`;
}
