import type { MikroORM } from '@mikro-orm/core';
import { sendJson } from './respond';
import type { Mount } from './types';

/** /livez says the process runs; /readyz also checks the store. Machines read the status code. */
export function healthMounts(orm: MikroORM, isShuttingDown: () => boolean): Mount[] {
  return [
    { prefix: '/livez', handler: async (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    { prefix: '/healthz', handler: async (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      prefix: '/readyz',
      handler: async (_req, res) => {
        if (isShuttingDown()) return sendJson(res, 503, { status: 'shutting down' });
        const db = await orm.checkConnection();
        sendJson(res, db.ok ? 200 : 503, { status: db.ok ? 'ok' : 'unavailable', checks: { database: db.ok ? 'ok' : 'unreachable' } });
      },
    },
  ];
}
