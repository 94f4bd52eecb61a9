import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type tls from 'node:tls';
import type { AutoTlsConfig } from '../config/auto-tls';
import type { Config } from '../config/config';
import { canonicalName, certificateNames, createCa, issueServerCert, type KeyAndCert } from '../crypto/local-ca';
import { ConfigError } from '../errors';
import type { Logger } from '../log';

/**
 * Files of the first-run TLS listener under `<data_dir>/tls`: the CA is made once and kept (every
 * kubeconfig handed out embeds it); the server certificate is made again whenever it no longer fits.
 */
export function firstRunTlsFiles(dir: string) {
  return {
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
  };
}

/** A server certificate this close to its end is replaced at start (and by the daily check). */
export const RENEW_BEFORE_MS = 30 * 24 * 3600_000;
/** How long a process waits for another one that is writing the CA at the same moment. */
const CA_WAIT_MS = 10_000;

export interface LocalCa extends KeyAndCert {
  fingerprint: string;
  created: boolean;
}

function samePublicKey(keyPem: string, certPem: string): boolean {
  const fromKey = crypto.createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  const fromCert = new crypto.X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return fromKey.equals(fromCert);
}

/** Writes through a private temporary file, so a reader never sees half a file and keys are never readable by others. */
function writeTemp(file: string, data: string, mode: number): string {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, data, { mode, flag: 'wx' });
  return tmp;
}

async function waitForFile(file: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!fs.existsSync(file)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** `withKey` false: the certificate alone, for a command that only embeds it (and may not read the 0600 key). */
function loadCa(files: ReturnType<typeof firstRunTlsFiles>, now: Date, withKey: boolean): LocalCa {
  const certPem = fs.readFileSync(files.caCert, 'utf8');
  const keyPem = withKey ? fs.readFileSync(files.caKey, 'utf8') : '';
  const cert = new crypto.X509Certificate(certPem);
  const remove = `remove ${files.caCert} and ${files.caKey} to generate a new CA (kubeconfigs issued before then must be fetched again)`;
  if (!cert.ca || (withKey && !samePublicKey(keyPem, certPem))) throw new Error(`${files.caCert} is not a CA certificate matching ${files.caKey}; ${remove}`);
  if (new Date(cert.validTo).getTime() <= now.getTime()) throw new Error(`the first-run CA ${files.caCert} expired on ${cert.validTo}; ${remove}`);
  return { certPem, keyPem, fingerprint: cert.fingerprint256, created: false };
}

/**
 * Loads the CA, or makes it when there is none. Two processes sharing the data directory may start at
 * once (`serve` and a CLI command): the key is published with link(2), which fails if another got there
 * first, and the loser then waits for the winner's certificate.
 */
export async function ensureLocalCa(dir: string, now: Date, opts: { withKey?: boolean } = {}): Promise<LocalCa> {
  const files = firstRunTlsFiles(dir);
  const withKey = opts.withKey ?? true;
  if (fs.existsSync(files.caCert)) return loadCa(files, now, withKey);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (fs.existsSync(files.caKey)) {
    if (await waitForFile(files.caCert, CA_WAIT_MS)) return loadCa(files, now, withKey);
    throw new Error(`${files.caKey} exists without ${files.caCert} (an interrupted first start?); remove ${files.caKey} to generate a new CA`);
  }
  const ca = await createCa(now);
  const tmpKey = writeTemp(files.caKey, ca.keyPem, 0o600);
  const tmpCert = writeTemp(files.caCert, ca.certPem, 0o644);
  try {
    fs.linkSync(tmpKey, files.caKey);
  } catch (err) {
    fs.rmSync(tmpCert, { force: true });
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (!(await waitForFile(files.caCert, CA_WAIT_MS))) throw new Error(`another process is creating the CA in ${dir} and has not finished`);
    return loadCa(files, now, withKey);
  } finally {
    fs.rmSync(tmpKey, { force: true });
  }
  fs.renameSync(tmpCert, files.caCert);
  return { ...ca, fingerprint: new crypto.X509Certificate(ca.certPem).fingerprint256, created: true };
}

/** Whether the stored server certificate is still the one to serve: its key, our CA, the wanted names, not near its end. */
function serverCertFits(files: ReturnType<typeof firstRunTlsFiles>, ca: LocalCa, names: string[], now: Date): boolean {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = fs.readFileSync(files.serverCert, 'utf8');
    keyPem = fs.readFileSync(files.serverKey, 'utf8');
  } catch {
    return false;
  }
  try {
    const cert = new crypto.X509Certificate(certPem);
    const caCert = new crypto.X509Certificate(ca.certPem);
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey) || !samePublicKey(keyPem, certPem)) return false;
    if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_MS || new Date(cert.validFrom).getTime() > now.getTime()) return false;
    const have = [...new Set(certificateNames(certPem))].sort();
    const want = [...new Set(names.map(canonicalName))].sort();
    return have.join(',') === want.join(',');
  } catch {
    return false;
  }
}

export interface ServerCert {
  certPem: string;
  keyPem: string;
  renewed: boolean;
}

/** Keeps the server certificate when it still fits, else issues and stores a new one (key first, both 0600/0644). */
export async function ensureServerCert(dir: string, ca: LocalCa, names: string[], now: Date): Promise<ServerCert> {
  const files = firstRunTlsFiles(dir);
  if (serverCertFits(files, ca, names, now)) {
    return { certPem: fs.readFileSync(files.serverCert, 'utf8'), keyPem: fs.readFileSync(files.serverKey, 'utf8'), renewed: false };
  }
  const issued = await issueServerCert(ca, names, now);
  fs.renameSync(writeTemp(files.serverKey, issued.keyPem, 0o600), files.serverKey);
  fs.renameSync(writeTemp(files.serverCert, issued.certPem, 0o644), files.serverCert);
  return { ...issued, renewed: true };
}

/** The TLS listener settings that serve the generated files. */
export function firstRunTlsListener(auto: AutoTlsConfig): NonNullable<Config['tls']> {
  const files = firstRunTlsFiles(auto.dir);
  return { address: auto.address, port: auto.port, certFile: files.serverCert, keyFile: files.serverKey, caFile: files.caCert, verifyClientTls: false };
}

/**
 * The configuration to run with: when first-run TLS is on, its CA (and, for a server, its certificate)
 * made or loaded, and `tls` pointing at them, so the listeners, kubeconfigs and client credentials all
 * use it. Commands that only hand out kubeconfigs skip the server certificate.
 */
export async function withFirstRunTls(config: Config, logger: Logger, opts: { serverCert: boolean; now?: Date }): Promise<Config> {
  const auto = config.autoTls;
  if (!auto || config.tls) return config;
  const now = opts.now ?? new Date();
  const ca = await ensureLocalCa(auto.dir, now, { withKey: opts.serverCert });
  const files = firstRunTlsFiles(auto.dir);
  if (ca.created) {
    logger.warn(
      { caFile: files.caCert, fingerprint: ca.fingerprint },
      'no TLS configured: generated a local CA for the first-run TLS listener; kubeconfigs embed it. Configure server_cert_file/server_key_file to use your own',
    );
  }
  if (opts.serverCert) {
    const server = await ensureServerCert(auto.dir, ca, auto.serverNames, now);
    if (server.renewed) {
      logger.info({ certFile: files.serverCert, names: auto.serverNames, validTo: new crypto.X509Certificate(server.certPem).validTo }, 'issued the first-run TLS server certificate');
    }
  }
  return { ...config, tls: firstRunTlsListener(auto) };
}

/**
 * A server that runs for months replaces its certificate before it ends, without a restart: checked
 * daily, and the new certificate is served to new connections.
 */
export function keepServerCertFresh(auto: AutoTlsConfig, server: Pick<tls.Server, 'setSecureContext'>, logger: Logger, opts: { intervalMs?: number; now?: () => Date } = {}): () => void {
  const now = opts.now ?? (() => new Date());
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    (async () => {
      const at = now();
      const cert = await ensureServerCert(auto.dir, await ensureLocalCa(auto.dir, at), auto.serverNames, at);
      if (!cert.renewed) return;
      server.setSecureContext({ cert: cert.certPem, key: cert.keyPem });
      logger.info({ names: auto.serverNames, validTo: new crypto.X509Certificate(cert.certPem).validTo }, 'renewed the first-run TLS server certificate');
    })()
      .catch((err: unknown) => logger.warn({ err }, 'could not renew the first-run TLS server certificate; retried tomorrow'))
      .finally(() => (running = false));
  }, opts.intervalMs ?? 24 * 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * A taken first-run TLS port stops the start with what to change. The port is not silently swapped
 * for another: the kubeconfigs handed out name it, so it must stay the same across restarts.
 */
export function explainFirstRunBindError(err: unknown, auto: AutoTlsConfig): unknown {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e?.code !== 'EADDRINUSE' || e.port !== auto.port) return err;
  return new ConfigError([
    `auto_tls.port: ${auto.address}:${auto.port} is in use; the first-run TLS listener (kubectl's way in) needs a port of its own. ` +
      'Set another with auto_tls.port or BCS_API_AUTO_TLS_PORT, or configure server_cert_file/server_key_file, or set auto_tls.enabled: false',
  ]);
}
