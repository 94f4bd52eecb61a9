import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HolderMap, WorkerHolding } from './messages';

/** Environment a worker is forked with: where its relay socket goes and the secret relays are signed with. */
export const RELAY_DIR_ENV = 'BCS_API_WORKER_RELAY_DIR';
export const RELAY_SECRET_ENV = 'BCS_API_WORKER_RELAY_SECRET';

export const relaySocket = (dir: string, workerId: string): string => path.join(dir, `${workerId}.sock`);

/**
 * The primary's side of relaying tunnels between workers: a private directory (mkdtemp makes it 0700,
 * so only this user reaches the sockets) with one socket per worker, a secret made at each start (not
 * `peering.secret`, which may be unset), and which worker holds which tunnel. A worker that exits
 * drops its entries and its socket.
 */
export class WorkerHolders {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-api-workers-'));
  private readonly secret = crypto.randomBytes(32).toString('hex');
  private readonly byWorker = new Map<string, WorkerHolding[]>();

  constructor() {
    process.once('exit', () => fs.rmSync(this.dir, { recursive: true, force: true }));
  }

  /** Handed to `cluster.fork`. */
  env(): Record<string, string> {
    return { [RELAY_DIR_ENV]: this.dir, [RELAY_SECRET_ENV]: this.secret };
  }

  set(workerId: string, holdings: WorkerHolding[]): void {
    this.byWorker.set(workerId, holdings);
  }

  drop(workerId: string): void {
    this.byWorker.delete(workerId);
    fs.rmSync(relaySocket(this.dir, workerId), { force: true });
  }

  map(): HolderMap {
    const out: HolderMap = {};
    for (const [id, holdings] of this.byWorker) out[id] = { socket: relaySocket(this.dir, id), holdings };
    return out;
  }
}
