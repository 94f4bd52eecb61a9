import type { Mount } from '../../http/types';
import type { Runtime } from '../../runtime';
import { sendEnvelope, sendEnvelopeError } from '../render';
import { Router } from '../router';
import { surfaceMount, type Handler } from '../surface';
import { addUserManagerClusterRoutes } from './clusters';
import { addUserManagerUserRoutes } from './users';

/** Where the API gateway exposes bcs-user-manager (`/bcsapi/v4/usermanager/…` → `/usermanager/…`). */
export const USER_MANAGER_PREFIX = '/bcsapi/v4/usermanager';

export function userManagerMount(rt: Runtime): Mount {
  const router = new Router<Handler>();
  addUserManagerUserRoutes(router);
  addUserManagerClusterRoutes(router);
  return surfaceMount(rt, USER_MANAGER_PREFIX, router, {
    success: (res, reply) => sendEnvelope(res, reply.status ?? 200, reply.body),
    error: sendEnvelopeError,
  });
}
