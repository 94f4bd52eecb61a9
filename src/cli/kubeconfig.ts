import fs from 'node:fs';
import type { Config } from '../config/config';
import { issueKubeconfig } from '../domain/kubeconfig';
import { findUserByName } from '../domain/users';
import { NotFoundError, ValidationError } from '../errors';
import { withFirstRunTls } from '../http/first-run-tls';
import { cliLogger, withRuntime } from './runtime';
import { ttlFlag, type Flags } from './usage';

/**
 * `kubeconfig <cluster> [--user admin] [--ttl s] [-o file]`: a fresh token of the user and a kubeconfig
 * for the gateway's TLS listener with its CA embedded (public_url when set), as the GraphQL mutation
 * gives. On a first run without TLS configured, the CA is the generated one (made here if `serve`
 * has not started yet; it then serves a certificate from it).
 */
export async function kubeconfigCommand(configured: Config, clusterId: string, flags: Flags): Promise<number> {
  const ttl = ttlFlag(flags.ttl);
  const userName = flags.user ?? 'admin';
  const config = await withFirstRunTls(configured, cliLogger(), { serverCert: false });
  return withRuntime(config, async (rt) => {
    const ctx = rt.context();
    const user = await findUserByName(ctx, userName);
    if (!user) {
      throw new NotFoundError('user', userName, `user ${userName} not found${flags.user ? '' : ' (serve creates it on its first start; or name another with --user)'}`);
    }
    if (user.disabledAt) throw new ValidationError('user', `user ${userName} is disabled`);
    const result = await issueKubeconfig(ctx, undefined, user, clusterId, { ttl });
    const expires = result.expiresAt ? `expires ${result.expiresAt.toISOString()}` : 'never expires';
    if (flags.output) {
      fs.writeFileSync(flags.output, result.kubeconfig, { mode: 0o600 });
      // An existing file keeps its mode on write; the token in it is for its owner only.
      fs.chmodSync(flags.output, 0o600);
      process.stderr.write(`wrote ${flags.output}: ${result.server} as ${user.name} (token ${result.tokenId}, ${expires})\n`);
    } else {
      process.stdout.write(result.kubeconfig);
      process.stderr.write(`kubeconfig for ${result.server} as ${user.name} (token ${result.tokenId}, ${expires})\n`);
    }
    return 0;
  });
}
