import path from 'node:path';
import type { ListenerConfig } from './config';

/** The original's TLS port; the first-run TLS listener takes it unless told otherwise. */
export const AUTO_TLS_PORT = 8443;

/**
 * First-run TLS: a second listener, beside the plain one, serving a certificate signed by a CA the
 * gateway generates under `dir` (src/http/first-run-tls.ts). kubectl sends a bearer token only over
 * TLS, so without it the kubeconfigs the gateway hands out could not work.
 */
export interface AutoTlsConfig extends ListenerConfig {
  /** Where the CA and the server certificate live (`<data_dir>/tls`). */
  dir: string;
  /** Names the server certificate must carry: loopback, the bound address, the public URL's host. */
  serverNames: string[];
}

export interface AutoTlsInput {
  /** `auto_tls.enabled`; true unless the operator turned it off. */
  enabled: boolean;
  /** `auto_tls.port` when set; AUTO_TLS_PORT otherwise. */
  port?: number;
  dataDir: string;
  /** Whether the operator configured a certificate (then nothing is generated). */
  tlsConfigured: boolean;
  /** Whether the operator laid out the listeners the original's way (`insecure_port`): then nothing is generated. */
  insecureConfigured: boolean;
  /** The plain listener; the TLS one binds the same address. */
  plain?: ListenerConfig;
  publicUrl?: string;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** The host of a URL as a certificate names it: IPv6 without brackets. */
function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Decides whether the first-run TLS listener runs: only when the operator configured neither TLS nor
 * the original's insecure listener, and did not turn it off. Moving the plain listener (`address`,
 * `port`) keeps it: both listeners then share the address, unless the plain one took 8443 itself.
 * Returns the problem to report, if any.
 */
export function decideAutoTls(input: AutoTlsInput): { autoTls?: AutoTlsConfig; problem?: string } {
  if (!input.enabled || input.tlsConfigured || input.insecureConfigured || !input.plain) return {};
  const { address } = input.plain;
  const port = input.port ?? AUTO_TLS_PORT;
  if (port !== 0 && port === input.plain.port) {
    // A plain listener put on 8443 by hand (the original's TLS port) keeps it; a clash asked for is an error.
    if (input.port === undefined) return {};
    return { problem: `auto_tls.port: ${port} is also the plain listener's port; choose another (or set auto_tls.enabled: false)` };
  }
  const names = [...LOOPBACK_NAMES];
  if (!WILDCARD.has(address)) names.push(address);
  if (input.publicUrl) names.push(hostOf(input.publicUrl));
  return { autoTls: { address, port, dir: path.join(input.dataDir, 'tls'), serverNames: [...new Set(names.map((n) => n.toLowerCase()))] } };
}
