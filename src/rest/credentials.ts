import { getCluster } from '../domain/clusters';
import { findCredential, readClusterSecrets, reportCredentials } from '../domain/credentials';
import { gatewayBaseUrl, gatewayCaPem } from '../domain/kubeconfig';
import { issueToken } from '../domain/tokens';
import { NotFoundError, type GatewayError } from '../errors';
import { ApiError, ERRCODE, type ErrorMapper } from './render';
import { principalOf, readJsonObject, type Call } from './request';
import type { Router } from './router';
import { handler, type Handler } from './surface';
import { credentialsView, serverAddressPath } from './views';

/**
 * An unknown cluster is reported like a cluster without a register token (as the original does), so an
 * unauthenticated caller cannot probe which cluster ids exist.
 */
export const reportErrors: ErrorMapper = (err: GatewayError) =>
  err instanceof NotFoundError && err.kind === 'cluster' ? new ApiError(400, 'RTOKEN_NOT_FOUND', ERRCODE.badRequest, 'no valid register token found for cluster') : undefined;

/**
 * What bcs-kube-agent sends every period: `{register_token, server_addresses, cacert_data, user_token}`,
 * without Authorization. Everything is validated before anything is written.
 */
export async function acceptReport(call: Call): Promise<void> {
  const body = await readJsonObject(call.req);
  await reportCredentials(call.ctx, call.params['cluster_id']!, {
    registerToken: body['register_token'],
    serverAddresses: body['server_addresses'],
    caCertData: body['cacert_data'],
    userToken: body['user_token'],
    reporterAddress: call.info.remoteAddress,
  });
}

/**
 * kubectl settings for the caller: the tunnel path, a freshly issued token of the caller's own (the
 * original handed back the caller's existing token, which is not stored here), and the gateway's CA
 * ("" without TLS). `server_address`, not in the original, is the whole URL kubectl should use: the
 * TLS listener even when this request came over the plain one, as in the kubeconfig mutation.
 */
const clientCredentials = handler(async (call) => {
  const actor = await principalOf(call);
  const cluster = await getCluster(call.ctx, call.params['cluster_id']!);
  if (!(await findCredential(call.ctx, cluster.id))) throw new NotFoundError('credentials', cluster.id, 'no credentials found');
  const token = await issueToken(call.ctx, actor, actor.user, { name: `client_credentials:${cluster.id}`, type: 'kubeconfig' });
  const serverAddress = `${gatewayBaseUrl(call.ctx, call.info.baseUrl)}${serverAddressPath(cluster)}`;
  return {
    body: { cluster_id: cluster.id, server_address_path: serverAddressPath(cluster), server_address: serverAddress, user_token: token.secret, cacert_data: gatewayCaPem(call.ctx) ?? '' },
  };
});

/** The cluster's service-account token and CA: super users only. */
const readCredentials = handler(async (call) => {
  const actor = await principalOf(call);
  return { body: credentialsView(await readClusterSecrets(call.ctx, actor, call.params['cluster_id']!)) };
});

export function addCredentialRoutes(r: Router<Handler>): void {
  r.add(
    'PUT',
    '/clusters/:cluster_id/credentials',
    handler(async (call) => {
      await acceptReport(call);
      return { body: {} };
    }, reportErrors),
  );
  r.add('GET', '/clusters/:cluster_id/credentials', readCredentials);
  r.add('GET', '/clusters/:cluster_id/client_credentials', clientCredentials);
}
