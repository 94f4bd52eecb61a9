import fs from 'node:fs';
import type { Config } from '../config/config';
import { createCluster, getCluster } from '../domain/clusters';
import { caFingerprint, parseServerAddresses, reportCredentials } from '../domain/credentials';
import { tunnelPath } from '../domain/kubeconfig';
import { createRegisterToken, readRegisterToken } from '../domain/register-tokens';
import { NotFoundError, ValidationError } from '../errors';
import { withRuntime } from './runtime';
import { UsageError, type Flags } from './usage';

/** `cluster create <id> [--project p] [--type k8s]`: the cluster, and a register token for its agent. */
export async function clusterCreate(config: Config, id: string, flags: Flags): Promise<number> {
  return withRuntime(config, async (rt) => {
    const cluster = await createCluster(rt.context(), undefined, { id, clusterType: flags.type, projectId: flags.project });
    const { secret } = await createRegisterToken(rt.context(), undefined, cluster.id);
    process.stdout.write(
      `created cluster ${cluster.id} (type ${cluster.clusterType}${cluster.projectId ? `, project ${cluster.projectId}` : ''}), ` +
        `reached through the gateway at ${tunnelPath(cluster)}\n\n` +
        `Its register token (shown only now; bcs-kube-agent reports the cluster's credentials with it):\n\n    ${secret}\n\n` +
        `Without an agent: bcs-api cluster credentials ${cluster.id} --server <apiserver URL> --ca-file <ca.pem> --token-file <token file>\n`,
    );
    return 0;
  });
}

function readFlagFile(flag: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function checkFlag(flag: string, check: () => unknown): void {
  try {
    check();
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(`${flag}: ${err.message.replace(/^field '\w+' /, '')}`);
    throw err;
  }
}

function requireFlag(value: string | undefined, flag: string, what: string): string {
  if (!value) throw new UsageError(`cluster credentials: missing ${flag} <${what}>`);
  return value;
}

/**
 * `cluster credentials <id> --server URL --ca-file ca.pem --token-file sa.token`: stores the cluster's
 * apiserver address, CA and service-account token exactly as an agent's report would (same
 * validation, sealed at rest, picked up by running proxies through the change feed), using the
 * cluster's register token, made here if it has none.
 */
export async function clusterCredentials(config: Config, id: string, flags: Flags): Promise<number> {
  const servers = flags.server ?? [];
  requireFlag(servers[0], '--server', "the cluster's kube-apiserver URL, https://host:6443");
  const caCertData = readFlagFile('--ca-file', requireFlag(flags['ca-file'], '--ca-file', "PEM file of the cluster's CA"));
  const userToken = readFlagFile('--token-file', requireFlag(flags['token-file'], '--token-file', 'file holding a service-account token')).trim();
  if (!userToken) throw new UsageError('--token-file: the file is empty');
  // Checked here, before the store is opened, so the message names the flag rather than the agent's field.
  checkFlag('--server', () => parseServerAddresses(servers.join(',')));
  checkFlag('--ca-file', () => caFingerprint(caCertData));
  return withRuntime(config, async (rt) => {
    const cluster = await getCluster(rt.context(), id);
    let registerToken: string;
    try {
      registerToken = (await readRegisterToken(rt.context(), undefined, cluster.id)).secret;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      registerToken = (await createRegisterToken(rt.context(), undefined, cluster.id)).secret;
    }
    const cred = await reportCredentials(rt.context(), cluster.id, { registerToken, serverAddresses: servers.join(','), caCertData, userToken, reporterAddress: 'command line' });
    process.stdout.write(`stored the credentials of cluster ${cluster.id}: ${cred.serverAddresses.join(', ')} (CA ${cred.caFingerprint})\n`);
    return 0;
  });
}
