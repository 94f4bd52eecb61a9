import type { MikroORM } from '@mikro-orm/core';
import type { DiscoveryHealth } from '../discovery';
import { storeProbe } from '../store/probe';
import { sendJson } from './respond';
import type { Mount } from './types';

/**
 * /livez says the process runs; /readyz checks the store and, when ZooKeeper is configured, the
 * discovery session (a gateway without it cannot route Mesos requests). Machines read the status code.
 */
export function healthMounts(orm: MikroORM, isShuttingDown: () => boolean, discovery?: () => DiscoveryHealth): Mount[] {
  // The store health's own probe: it reads a table, so a SQLite file locked by another process is not ready.
  const probe = storeProbe(orm);
  return [
    { prefix: '/livez', handler: async (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    { prefix: '/healthz', handler: async (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      prefix: '/readyz',
      handler: async (_req, res) => {
        if (isShuttingDown()) return sendJson(res, 503, { status: 'shutting down' });
        const db = { ok: await probe().then(() => true, () => false) };
        const zk = discovery?.();
        const ready = db.ok && (zk?.ready ?? true);
        sendJson(res, ready ? 200 : 503, {
          status: ready ? 'ok' : 'unavailable',
          checks: {
            database: db.ok ? 'ok' : 'unreachable',
            ...(zk && zk.state !== 'disabled' ? { zookeeper: { state: zk.state, message: zk.message } } : {}),
          },
        });
      },
    },
  ];
}
