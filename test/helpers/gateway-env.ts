import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { startApp, type App } from '../../src/app';
import type { Config } from '../../src/config/config';
import { createLogger } from '../../src/log';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { startTestApp, type TestApp } from './app';
import type { Dialect } from './db';
import { startFakeKube, type FakeKube } from './fake-kube';
import { generateCerts } from './fake-kube/certs';
import { credsOf, registerCluster } from './clusters';

export interface GatewayEnv {
  gw: TestApp;
  fake: FakeKube;
  clusterId: string;
  identifier: string;
  registerToken: string;
  alice: { id: number; token: string };
  /** Runs a GraphQL operation as the holder of `token`; returns the parsed body. */
  graphql<T = Record<string, unknown>>(token: string, query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }>;
  /** Writes a kubeconfig obtained from the GraphQL `kubeconfig` mutation; returns its path. */
  kubeconfigFor(token: string, name: string): Promise<string>;
  /** The gateway's TLS listener (kubectl sends tokens only over TLS) and the CA that signed it. */
  httpsUrl: string;
  gatewayCaPem: string;
  /** `http://…/tunnels/clusters/<identifier><path>` on the loopback plain listener, for raw requests. */
  tunnelUrl(path: string): string;
  /**
   * Stops the gateway (listeners, proxy, tunnels, store connections) as a shutdown would, keeping its
   * database and data dir; `startGateway` then starts a new one on the same ports, database and data dir.
   */
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  stop(): Promise<void>;
}

/** A stop that runs once: the test app's own stop may follow a restart's. */
function stopOnce(app: App): void {
  const stop = app.stop.bind(app);
  let stopping: Promise<void> | undefined;
  app.stop = () => (stopping ??= stop());
}

/**
 * A gateway with one registered cluster backed by a fake kube-apiserver: the cluster's agent has
 * reported the fake's address, CA and service-account token, exactly as bcs-kube-agent would.
 * `alice` (`plain:alice`, groups dev) is a normal user; `gw.adminToken` is a super user.
 */
export async function startGatewayEnv(dialect: Dialect = 'sqlite', overrides: Partial<Config> = {}, addresses?: (fake: FakeKube) => string): Promise<GatewayEnv> {
  const fake = await startFakeKube();
  const certs = generateCerts();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-gw-tls-'));
  for (const [name, pem] of [['ca.pem', certs.caPem], ['cert.pem', certs.certPem], ['key.pem', certs.keyPem]] as const) fs.writeFileSync(path.join(dir, name), pem);
  const tls = { address: '127.0.0.1', port: 0, certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem'), caFile: path.join(dir, 'ca.pem'), verifyClientTls: false };
  const gw = await startTestApp(dialect, { tls, ...overrides });
  const httpsUrl = gw.app.listening.urls.find((u) => u.startsWith('https:'))!;
  const httpUrl = gw.app.listening.urls.find((u) => u.startsWith('http:'))!;
  const ctx = () => gw.app.runtime.context();
  const { cluster, registerToken } = await registerCluster(ctx, 'BCS-K8S-40001', credsOf(fake, addresses ? addresses(fake) : fake.url));
  const aliceUser = await createUser(ctx(), undefined, { name: 'plain:alice', groups: ['dev'] });
  const aliceToken = (await issueToken(ctx(), undefined, aliceUser, {})).secret;

  const graphql: GatewayEnv['graphql'] = (token, query, variables) =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ query, variables });
      const req = https.request(
        `${httpsUrl}/graphql`,
        { method: 'POST', ca: certs.caPem, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(JSON.parse(text) as never));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  stopOnce(gw.app);
  const first = gw.app;
  const ports = { http: Number(new URL(httpUrl).port), https: Number(new URL(httpsUrl).port) };
  const stopGateway = () => gw.app.stop();
  const startGateway = async () => {
    const cfg = first.runtime.config;
    const config: Config = { ...cfg, plain: { ...cfg.plain!, port: ports.http }, tls: { ...cfg.tls!, port: ports.https } };
    gw.app = await startApp(config, createLogger(process.env.BCS_TEST_LOG_LEVEL ?? 'silent'));
    stopOnce(gw.app);
  };

  return {
    gw,
    fake,
    clusterId: cluster.id,
    identifier: cluster.identifier,
    registerToken,
    alice: { id: aliceUser.id, token: aliceToken },
    graphql,
    async kubeconfigFor(token, name) {
      const r = await graphql<{ kubeconfig: { kubeconfig: string } }>(token, 'mutation($c: ID!) { kubeconfig(clusterId: $c) { kubeconfig } }', { c: cluster.id });
      if (!r.data) throw new Error(`kubeconfig mutation failed: ${JSON.stringify(r.errors)}`);
      const file = path.join(gw.dir, `${name}.kubeconfig`);
      fs.writeFileSync(file, r.data.kubeconfig.kubeconfig, { mode: 0o600 });
      return file;
    },
    httpsUrl,
    gatewayCaPem: certs.caPem,
    tunnelUrl: (p) => `${httpUrl}/tunnels/clusters/${cluster.identifier}${p}`,
    stopGateway,
    startGateway,
    async stop() {
      if (gw.app !== first) await gw.app.stop();
      await gw.stop();
      await fake.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
