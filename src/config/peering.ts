import fs from 'node:fs';
import path from 'node:path';
import type { ConfigWarning } from './config';
import { bool, nonEmpty, type SettingReader } from './settings';

/**
 * The original's built-in `peer_token` (reference §4.3): published in its source, so it authenticates
 * nobody. Refused as a secret, whatever key it comes from.
 */
const ORIGINAL_DEFAULT_PEER_TOKEN = 'Mx9vWfTZea4MEzc7SlvB8aFl0NhmYQvZzEomOYypDMKkev34Q9kIyh32RjXXCIcn';

/** Short secrets are guessable offline from one captured HMAC; 32 characters is what `openssl rand -hex 16` prints. */
const MIN_SECRET_LENGTH = 32;

export interface PeeringConfig {
  /** Shared by every replica; signs each relay request (HMAC), never sent or logged. */
  secret: string;
  /** CA peers' listeners are verified against; default the first-run CA, else the TLS `ca_file`, else the system roots. */
  caFile?: string;
  /** Name checked in peers' certificates instead of the address they publish (certificates without IP SANs). */
  serverName?: string;
}

/**
 * Replicas relay agent and driver tunnels to each other when they share ZooKeeper and a secret.
 * `peering.enabled: true` without a secret (or without ZooKeeper) stops the start; left unset, peering is
 * on when both are there, and off with one warning when only ZooKeeper is: a single replica that uses
 * ZooKeeper for driver discovery must keep starting after an upgrade, and it needs no peer.
 */
export function readPeering(
  s: SettingReader,
  cwd: string,
  { zookeeper, autoTlsDir, tlsCaFile }: { zookeeper?: string; autoTlsDir?: string; tlsCaFile?: string },
): { peering?: PeeringConfig; warning?: ConfigWarning } {
  const enabled = s.get('peeringEnabled', bool);
  let secret = s.get('peeringSecret', nonEmpty);
  const secretFile = s.get('peeringSecretFile', nonEmpty);
  if (secret && secretFile) s.problems.push(`${s.keyOf('peeringSecret')} and ${s.keyOf('peeringSecretFile')}: set one of them`);
  else if (secretFile) {
    try {
      secret = fs.readFileSync(path.resolve(cwd, secretFile), 'utf8').trim();
      if (!secret) s.problems.push(`${s.keyOf('peeringSecretFile')}: ${secretFile} is empty`);
    } catch (err) {
      s.problems.push(`${s.keyOf('peeringSecretFile')}: cannot read ${secretFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const secretKey = secretFile ? s.keyOf('peeringSecretFile') : s.keyOf('peeringSecret');
  if (secret === ORIGINAL_DEFAULT_PEER_TOKEN) {
    s.problems.push(`${secretKey}: this is the original's built-in default peer token, published in its source; generate one (openssl rand -hex 32)`);
    return {};
  }
  if (secret && secret.length < MIN_SECRET_LENGTH) {
    s.problems.push(`${secretKey}: at least ${MIN_SECRET_LENGTH} characters (openssl rand -hex 32)`);
    return {};
  }
  if (enabled === false) return {};
  if (enabled === true && !secret) s.problems.push(`${s.keyOf('peeringEnabled')}: peering needs a shared secret (peering.secret_file or peering.secret); there is no default`);
  if (enabled === true && !zookeeper) s.problems.push(`${s.keyOf('peeringEnabled')}: peering finds the replicas holding tunnels through ZooKeeper (bcs_zookeeper)`);
  if (!zookeeper) return {};
  if (!secret) {
    return {
      warning: {
        message: 'ZooKeeper is configured but no peering secret (peering.secret_file): replicas do not relay agent tunnels to each other; each serves only the tunnels it holds',
        keys: ['peering.secret_file'],
      },
    };
  }
  const caFile = s.get('peeringCaFile', nonEmpty);
  const defaultCa = autoTlsDir ? path.join(autoTlsDir, 'ca.crt') : tlsCaFile;
  return { peering: { secret, caFile: caFile ? path.resolve(cwd, caFile) : defaultCa, serverName: s.get('peeringServerName', nonEmpty) } };
}
