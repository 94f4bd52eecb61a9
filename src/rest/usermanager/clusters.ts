import { createCluster } from '../../domain/clusters';
import { readAllClusterSecrets, readClusterSecrets } from '../../domain/credentials';
import { createRegisterToken, readRegisterToken } from '../../domain/register-tokens';
import { optionalString, requireName, requireString } from '../../domain/validate';
import { acceptReport, reportErrors } from '../credentials';
import { ApiError, ERRCODE } from '../render';
import { readJsonObject } from '../request';
import type { Router } from '../router';
import { handler, type Handler } from '../surface';
import { adminOnly } from './auth';
import { umAllCredentialsView, umClusterView, umCredentialsView, umRegisterTokenView } from './views';

/** `POST /v1/clusters`: the id is used as given, as user-manager did. */
const createClusterRoute = handler(
  async (call) => {
    const actor = await adminOnly(call, 'create clusters');
    const body = await readJsonObject(call.req);
    const id = requireName('cluster_id', body['cluster_id'], 100);
    const clusterType = requireString('cluster_type', body['cluster_type']);
    const cluster = await createCluster(call.ctx, actor, {
      id,
      clusterType,
      provider: 'bcs',
      tkeClusterId: optionalString('tke_cluster_id', body['tke_cluster_id'], 100),
      tkeClusterRegion: optionalString('tke_cluster_region', body['tke_cluster_region'], 100),
    });
    return { body: umClusterView(cluster) };
  },
  (err) => (err.code === 'CONFLICT' ? new ApiError(400, 'CLUSTER_ALREADY_EXISTS', ERRCODE.badRequest, err.message) : undefined),
);

const readToken = handler(async (call) => {
  const actor = await adminOnly(call, 'read register tokens');
  const view = await readRegisterToken(call.ctx, actor, call.params['cluster_id']!);
  return { body: umRegisterTokenView(view.token, view.secret) };
});

const createToken = handler(
  async (call) => {
    const actor = await adminOnly(call, 'create register tokens');
    const view = await createRegisterToken(call.ctx, actor, call.params['cluster_id']!);
    return { body: umRegisterTokenView(view.token, view.secret) };
  },
  (err) => (err.code === 'CONFLICT' ? new ApiError(400, 'CANNOT_CREATE_RTOKEN', ERRCODE.badRequest, 'can not create register token: token already exists') : undefined),
);

const report = handler(async (call) => {
  await acceptReport(call);
  return { body: null };
}, reportErrors);

const readCredentials = handler(async (call) => {
  const actor = await adminOnly(call, 'read cluster credentials');
  return { body: umCredentialsView(await readClusterSecrets(call.ctx, actor, call.params['cluster_id']!)) };
});

const readAllCredentials = handler(async (call) => {
  const actor = await adminOnly(call, 'read cluster credentials');
  return { body: umAllCredentialsView(await readAllClusterSecrets(call.ctx, actor)) };
});

export function addUserManagerClusterRoutes(r: Router<Handler>): void {
  r.add('POST', '/v1/clusters', createClusterRoute);
  r.add('GET', '/v1/clusters/credentials', readAllCredentials);
  r.add('POST', '/v1/clusters/:cluster_id/register_tokens', createToken);
  r.add('GET', '/v1/clusters/:cluster_id/register_tokens', readToken);
  r.add('PUT', '/v1/clusters/:cluster_id/credentials', report);
  r.add('GET', '/v1/clusters/:cluster_id/credentials', readCredentials);
}
