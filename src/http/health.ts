import type { MikroORM } from '@mikro-orm/core';
import type { DiscoveryHealth } from '../discovery';
import type { ChangeSignal } from '../domain/change-signal';
import { FEED_POLL_MS } from '../domain/change-feed';
import { storeProbe } from '../store/probe';
import { sendJson } from './respond';
import type { Mount } from './types';

/**
 * /livez says the process runs. /readyz is 503 only when this process can learn of changes by neither
 * path: the store is unreachable (no feed to read, no token to look up) and the ZooKeeper change signal
 * is not watched either (without ZooKeeper: whenever the store is unreachable). ZooKeeper down with the
 * store up is ready: the caches keep serving and the feed is polled every 500 ms; the store down with
 * the signal up is ready too: nothing can be committed meanwhile, so the caches stay current. The
 * discovery's state is shown, not judged: discovered servers are served from its cache meanwhile.
 */
export function healthMounts(orm: MikroORM, isShuttingDown: () => boolean, discovery?: () => DiscoveryHealth, signal?: ChangeSignal): Mount[] {
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
        const signalled = signal?.up() ?? false;
        const ready = db.ok || signalled;
        sendJson(res, ready ? 200 : 503, {
          status: ready ? 'ok' : 'unavailable',
          checks: {
            database: db.ok ? 'ok' : 'unreachable',
            ...(zk && zk.state !== 'disabled' ? { zookeeper: { state: zk.state, message: zk.message } } : {}),
            ...(signal ? { changeSignal: signalled ? 'ok' : `down; the change feed is polled every ${FEED_POLL_MS} ms` } : {}),
          },
        });
      },
    },
  ];
}
