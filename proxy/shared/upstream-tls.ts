import fs from 'node:fs';
import type { Config } from '../../src/config/config';

/** TLS material for https upstreams found in ZooKeeper (drivers and modules). */
export interface UpstreamTls {
  /** Replaces the system CAs when `ca_file` is set, as the original's client TLS config did. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * The original's client TLS config (`ca_file`, `client_cert_file`, `client_key_file`): upstream
 * certificates verified (never skipped), and this gateway's client certificate offered when configured.
 * Read once at start-up; the files were checked by the config loader.
 */
export function upstreamTls(config: Pick<Config, 'clientTls' | 'upstreamCaFile'>): UpstreamTls {
  return {
    ca: config.upstreamCaFile ? fs.readFileSync(config.upstreamCaFile) : undefined,
    cert: config.clientTls ? fs.readFileSync(config.clientTls.certFile) : undefined,
    key: config.clientTls ? fs.readFileSync(config.clientTls.keyFile) : undefined,
  };
}
