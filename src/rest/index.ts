import type { Runtime } from '../runtime';
import type { Mount } from '../http/types';
import { addClusterRoutes } from './clusters';
import { addCredentialRoutes } from './credentials';
import { sendRestError } from './render';
import { Router } from './router';
import { surfaceMount, type Handler } from './surface';
import { sendJson } from '../http/respond';
import { userManagerMount } from './usermanager';
import { addUserRoutes } from './users';

export const REST_PREFIX = '/rest';

/** The original's /rest management API: bare entities on success, `{code_name, message}` on error. */
export function restMount(rt: Runtime): Mount {
  const router = new Router<Handler>();
  addUserRoutes(router);
  addClusterRoutes(router);
  addCredentialRoutes(router);
  return surfaceMount(rt, REST_PREFIX, router, {
    success: (res, reply) => sendJson(res, reply.status ?? 200, reply.body),
    error: sendRestError,
  });
}

/** Mounts the original's /rest and /bcsapi/v4/usermanager routes. */
export function createRestMounts(rt: Runtime): Mount[] {
  return [restMount(rt), userManagerMount(rt)];
}
