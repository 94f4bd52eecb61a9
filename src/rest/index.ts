import type { Runtime } from '../runtime';
import type { Mount } from '../http/types';

/** Mounts the original's /rest and /bcsapi/v4/usermanager routes. Placeholder until they land. */
export function createRestMounts(_rt: Runtime): Mount[] {
  return [];
}
