import { requireSuperUser } from '../domain/authorize';
import { createCluster, getCluster } from '../domain/clusters';
import { createRegisterToken, readRegisterToken } from '../domain/register-tokens';
import { optionalString, requireString } from '../domain/validate';
import type { GatewayError } from '../errors';
import type { ClusterProvider } from '../store/entities';
import { ApiError, ERRCODE, isValidationOf, type ErrorMapper } from './render';
import { principalOf, readJsonObject, type Call } from './request';
import type { Router } from './router';
import { handler, type Handler, type Reply } from './surface';
import { clusterView, registerTokenView } from './views';

const clusterCreateErrors: ErrorMapper = (err: GatewayError) => {
  if (isValidationOf(err, 'cluster_type')) return new ApiError(400, 'CLUSTER_TYPE_INVALID', ERRCODE.badRequest, err.message);
  if (err.code === 'CONFLICT') return new ApiError(400, 'CLUSTER_ALREADY_EXISTS', ERRCODE.badRequest, err.message);
  return undefined;
};

/** Cluster creation is for super users only (the original let any authenticated user create one). */
async function create(call: Call, provider: ClusterProvider): Promise<Reply> {
  const actor = await principalOf(call);
  requireSuperUser(actor, 'create clusters');
  const body = await readJsonObject(call.req);
  const projectId = provider === 'bcs' ? requireString('project_id', body['project_id']) : undefined;
  const cluster = await createCluster(call.ctx, actor, {
    id: body['id'] as string,
    provider,
    projectId: optionalString('project_id', projectId, 64),
    clusterType: optionalString('cluster_type', body['cluster_type'], 16),
    tkeClusterId: optionalString('tke_cluster_id', body['tke_cluster_id'], 100),
    tkeClusterRegion: optionalString('tke_cluster_region', body['tke_cluster_region'], 100),
  });
  return { body: clusterView(cluster) };
}

function queryParam(call: Call, name: string): string {
  return requireString(name, call.query.get(name) ?? undefined);
}

/** Looks a BCS cluster up by (project_id, cluster_id); ids are used as given, so the id is the key. */
const queryById = handler(async (call) => {
  await principalOf(call);
  const projectId = queryParam(call, 'project_id');
  const clusterId = queryParam(call, 'cluster_id');
  const notFound = new ApiError(404, 'CLUSTER_NOT_FOUND', ERRCODE.badRequest, `cluster with project_id=${projectId} cluster_id=${clusterId} not found`);
  const cluster = await getCluster(call.ctx, clusterId).catch((err: unknown) => {
    throw (err as GatewayError).code === 'NOT_FOUND' ? notFound : err;
  });
  if ((cluster.projectId ?? '') !== projectId) throw notFound;
  return { body: clusterView(cluster) };
});

/** The original answered this one without authentication; here any authenticated user may ask. */
const queryByClusterId = handler(async (call) => {
  await principalOf(call);
  const clusterId = queryParam(call, 'cluster_id');
  const cluster = await getCluster(call.ctx, clusterId).catch((err: unknown) => {
    throw (err as GatewayError).code === 'NOT_FOUND' ? new ApiError(404, 'CLUSTER_NOT_FOUND', ERRCODE.badRequest, `cluster with cluster_id=${clusterId} not found`) : err;
  });
  return { body: clusterView(cluster) };
});

/** Register tokens let their holder rewrite a cluster's credentials: super users only. */
const getRegisterTokens = handler(async (call) => {
  const actor = await principalOf(call);
  const view = await readRegisterToken(call.ctx, actor, call.params['cluster_id']!);
  return { body: [registerTokenView(view.token, view.secret)] };
});

const createRegisterTokens = handler(
  async (call) => {
    const actor = await principalOf(call);
    const view = await createRegisterToken(call.ctx, actor, call.params['cluster_id']!);
    return { body: [registerTokenView(view.token, view.secret)] };
  },
  (err) => (err.code === 'CONFLICT' ? new ApiError(400, 'CANNOT_CREATE_RTOKEN', ERRCODE.badRequest, 'can not create register token: token already exists') : undefined),
);

export function addClusterRoutes(r: Router<Handler>): void {
  r.add('POST', '/clusters/bcs', handler((call) => create(call, 'bcs'), clusterCreateErrors));
  r.add('POST', '/clusters', handler((call) => create(call, 'plain'), clusterCreateErrors));
  r.add('GET', '/clusters/bcs/query_by_id', queryById);
  r.add('GET', '/clusters/bcs/query_by_cluster_id', queryByClusterId);
  r.add('GET', '/clusters/:cluster_id/register_tokens', getRegisterTokens);
  r.add('POST', '/clusters/:cluster_id/register_tokens', createRegisterTokens);
}
