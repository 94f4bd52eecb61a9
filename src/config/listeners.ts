import fs from 'node:fs';
import path from 'node:path';
import type { Config, ListenerConfig } from './config';
import type { Setting } from './keys';
import { bool, nonEmpty, port, type SettingReader } from './settings';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const WILDCARD = /^(0\.0\.0\.0|::)$/;

type Listeners = Pick<Config, 'tls' | 'plain' | 'allowInsecureListener' | 'metrics' | 'clientTls' | 'upstreamCaFile'>;

/** Reads a file path setting, resolved against cwd; a missing file is a problem named by its key. */
function fileSetting(s: SettingReader, setting: Setting, cwd: string): string | undefined {
  const file = s.get(setting, nonEmpty);
  if (!file) return undefined;
  const resolved = path.resolve(cwd, file);
  if (!fs.existsSync(resolved)) s.problems.push(`${s.keyOf(setting)}: file ${file} does not exist`);
  return resolved;
}

/** Two settings that only make sense together (a certificate and its key). */
function pair(s: SettingReader, a: Setting, b: Setting, cwd: string): { a: string; b: string } | undefined {
  const fileA = fileSetting(s, a, cwd);
  const fileB = fileSetting(s, b, cwd);
  if (fileA && fileB) return { a: fileA, b: fileB };
  if (fileA || fileB) {
    const [set, missing] = fileA ? [a, b] : [b, a];
    const written = s.keyOf(set);
    const [first, second] = fileA ? [written, s.spelledLike(written, missing)] : [s.spelledLike(written, missing), written];
    s.problems.push(`${first} and ${second} must be set together (only ${written} is set)`);
  }
  return undefined;
}

const overlaps = (x: string, y: string): boolean => x === y || WILDCARD.test(x) || WILDCARD.test(y);

/**
 * Listeners as the original had them (reference §1.1): TLS on address:port when a server certificate
 * and key are configured (client certificates verified against ca_file with verify_client_tls), plain
 * HTTP on insecure_address:insecure_port when that port is set, and Prometheus on address:metric_port.
 * Without TLS and without insecure_port, address:port serves plain HTTP (the zero-configuration default).
 */
export function readListeners(s: SettingReader, cwd: string): Listeners {
  const address = s.get('address', nonEmpty, '127.0.0.1');
  const mainPort = s.get('port', port, 8080);
  const server = pair(s, 'certFile', 'keyFile', cwd);
  const caFile = fileSetting(s, 'caFile', cwd);
  const verifyClientTls = s.get('verifyClientTls', bool, false);
  if (verifyClientTls && !caFile) {
    const written = s.keyOf('verifyClientTls');
    s.problems.push(`${written}: needs ${s.spelledLike(written, 'caFile')} to verify client certificates against`);
  }
  const tls = server ? { address, port: mainPort, certFile: server.a, keyFile: server.b, caFile, verifyClientTls } : undefined;

  const insecurePort = s.get('insecurePort', port);
  const insecureAddress = s.get('insecureAddress', nonEmpty, tls ? '127.0.0.1' : address);
  const plain = insecurePort !== undefined && insecurePort !== 0 ? { address: insecureAddress, port: insecurePort } : tls ? undefined : { address, port: mainPort };
  const allowInsecureListener = s.get('allowInsecureListener', bool, false);
  if (plain && !LOOPBACK.test(plain.address) && !allowInsecureListener) {
    const key = (insecurePort && s.lookup('insecureAddress')?.key) || s.keyOf('address');
    // The documented YAML layout keeps its certificates in cert_config, beside service_config.
    const certs = key.startsWith('service_config.') ? 'cert_config.server_cert_file/server_key_file' : 'server_cert_file/server_key_file';
    s.problems.push(
      `${key}: a plain-HTTP listener on ${plain.address} would carry tokens in clear text; ` +
        `${tls ? '' : `configure ${certs}, `}bind it to 127.0.0.1, or set allow_insecure_listener: true`,
    );
  }

  const metricPort = s.get('metricPort', port);
  const metricsListener = metricPort ? { address, port: metricPort } : undefined;
  const taken: [Setting, ListenerConfig | undefined][] = [['port', tls], [insecurePort ? 'insecurePort' : 'port', plain]];
  for (const [setting, l] of taken) {
    if (!metricsListener || !l || l.port !== metricPort || !overlaps(l.address, address)) continue;
    s.problems.push(`${s.keyOf('metricPort')}: port ${metricPort} is already taken by ${s.keyOf(setting)}`);
    break;
  }
  const client = pair(s, 'clientCertFile', 'clientKeyFile', cwd);
  return {
    tls,
    plain,
    allowInsecureListener,
    metrics: { listener: metricsListener, onMainListener: s.get('metricsOnMainListener', bool, true) },
    clientTls: client && { certFile: client.a, keyFile: client.b },
    upstreamCaFile: caFile,
  };
}
