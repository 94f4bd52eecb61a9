import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startApp, type App, type Role } from '../../src/app';
import type { Config } from '../../src/config/config';
import { createLogger } from '../../src/log';
import { startGatewayEnv, type GatewayEnv } from './gateway-env';
import { LogLines } from './log-lines';
import { ZooKeeperServer } from './zookeeper';

export const PEER_SECRET = crypto.randomBytes(32).toString('hex');

export interface Replica {
  app: App;
  logs: LogLines;
  httpUrl: string;
  httpsUrl: string;
  /** `GET /metrics` of this replica, as text. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export interface Replicas {
  zk: ZooKeeperServer;
  /** Replica A: the gateway environment (database, fake apiserver, cluster, TLS) the others join. */
  env: GatewayEnv;
  /** Another replica on the same database, ZooKeeper, keyring and TLS certificate. */
  start(opts?: { secret?: string; role?: Role; config?: Partial<Config> }): Promise<Replica>;
  /** A copy of `kubeconfig` naming `replica`'s TLS listener instead of A's. */
  kubeconfigVia(kubeconfig: string, replica: Replica, name: string): string;
  stop(): Promise<void>;
}

export const metricValue = (text: string, line: RegExp): number => Number(line.exec(text)?.[1] ?? NaN);

/**
 * Several gateway replicas in this process on one MariaDB database and one real ZooKeeper, peering with
 * a shared secret. ZooKeeper sessions last 2 s, so a holder that goes is noticed within seconds.
 */
export async function startReplicas(overrides: Partial<Config> = {}): Promise<Replicas> {
  const zk = await ZooKeeperServer.start({ tickTime: 100, minSessionTimeout: 1000, maxSessionTimeout: 20000 });
  const zookeeper = { zookeeper: zk.connectString, zookeeperClient: { sessionTimeoutSeconds: 2 } };
  const env = await startGatewayEnv('mysql', { ...zookeeper, peering: { secret: PEER_SECRET }, ...overrides }, () => 'https://127.0.0.1:1');
  const base = env.gw.app.runtime.config;
  const started: Replica[] = [];
  return {
    zk,
    env,
    async start(opts = {}) {
      const logs = new LogLines();
      const config: Config = {
        ...base,
        ...zookeeper,
        plain: { address: '127.0.0.1', port: 0 },
        tls: { ...base.tls!, port: 0 },
        peering: { secret: opts.secret ?? PEER_SECRET, caFile: base.tls!.caFile },
        ...opts.config,
      };
      const app = await startApp(config, createLogger('info', logs), { role: opts.role });
      const httpUrl = app.listening.urls.find((u) => u.startsWith('http:'))!;
      let stopping: Promise<void> | undefined;
      const replica: Replica = {
        app,
        logs,
        httpUrl,
        httpsUrl: app.listening.urls.find((u) => u.startsWith('https:'))!,
        metrics: async () => (await fetch(`${httpUrl}/metrics`)).text(),
        stop: () => (stopping ??= app.stop()),
      };
      started.push(replica);
      return replica;
    },
    kubeconfigVia(kubeconfig, replica, name) {
      const file = path.join(path.dirname(kubeconfig), `${name}.kubeconfig`);
      fs.writeFileSync(file, fs.readFileSync(kubeconfig, 'utf8').split(env.httpsUrl).join(replica.httpsUrl), { mode: 0o600 });
      return file;
    },
    async stop() {
      for (const r of started) await r.stop().catch(() => undefined);
      await env.stop();
      await zk.dispose();
    },
  };
}
