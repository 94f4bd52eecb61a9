// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect polyfill loaded first.
import 'reflect-metadata';
import crypto from 'node:crypto';
import net from 'node:net';
import * as x509 from '@peculiar/x509';

/**
 * A private CA and the server certificates it signs, for the first-run TLS listener. ECDSA P-256
 * throughout: fast to generate, and what Go's crypto/tls (kubectl) and Node both handle natively.
 */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 24 * 3600_000;
export const CA_VALIDITY_DAYS = 3650;
export const SERVER_VALIDITY_DAYS = 365;
/** Backdating, so a client whose clock is a little behind still accepts a certificate made just now. */
const BACKDATE_MS = 3600_000;

type WebKey = crypto.webcrypto.CryptoKey;
const subtle = crypto.webcrypto.subtle;

// The library is typed against the DOM's WebCrypto; Node's implementation is the same API.
x509.cryptoProvider.set(crypto.webcrypto as never);

export interface KeyAndCert {
  certPem: string;
  keyPem: string;
}

/** A positive 128-bit serial: unique without bookkeeping, and never read as negative (Go refuses those). */
function serialNumber(): string {
  const bytes = crypto.randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

async function newKeys(): Promise<crypto.webcrypto.CryptoKeyPair> {
  return subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<crypto.webcrypto.CryptoKeyPair>;
}

async function privateKeyPem(key: WebKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
}

async function importPrivateKey(pem: string): Promise<WebKey> {
  const der = crypto.createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

/** A CA that may sign server certificates only (path length 0). */
export async function createCa(now: Date, commonName = 'bcs-api local CA'): Promise<KeyAndCert> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${commonName}, O=bcs-api`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** A server certificate for `names` (DNS names and IP addresses), signed by `ca`, never outliving it. */
export async function issueServerCert(ca: KeyAndCert, names: string[], now: Date): Promise<KeyAndCert> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const keys = await newKeys();
  const notAfter = Math.min(now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS, caCert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${names[0] ?? 'localhost'}, O=bcs-api`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: await importPrivateKey(ca.keyPem),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => (net.isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** A name in the form certificates are compared in: lower case, IP addresses canonical. */
export function canonicalName(name: string): string {
  if (net.isIPv6(name)) return new URL(`http://[${name}]`).hostname.slice(1, -1);
  return name.toLowerCase();
}

/** The DNS names and IP addresses a certificate carries, canonical. */
export function certificateNames(certPem: string): string[] {
  const san = new x509.X509Certificate(certPem).getExtension(x509.SubjectAlternativeNameExtension);
  return (san?.names.items ?? []).filter((n) => n.type === 'dns' || n.type === 'ip').map((n) => canonicalName(n.value));
}
