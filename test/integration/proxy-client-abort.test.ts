/**
 * A client that goes away takes its upstream request with it, at scale: 200 watches, follows or upgrades
 * closed together are gone at the fake apiserver within a second, whether the client spoke HTTP/1.1 or
 * HTTP/2 (streams cancelled one by one, or the whole session dropped) and whether the apiserver is reached
 * over HTTP/2 (streams counted) or HTTP/1.1 (connections counted, and none dialled afresh after the abort).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ClusterSecrets } from '../../src/domain/credentials';
import { sha256Hex } from '../../src/crypto/tokens';
import { deleteCluster } from '../../src/domain/clusters';
import { ApiToken } from '../../src/store/entities';
import { forward, type ForwardResult } from '../../proxy/k8s/forward';
import type { Admitted } from '../../proxy/k8s/pipeline';
import { ClusterUpstream } from '../../proxy/k8s/upstream';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { generateCerts } from '../helpers/fake-kube/certs';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { credsOf, registerCluster } from '../helpers/clusters';
import { openH1, openH2, openUpgrade } from '../helpers/stream-clients';
import { waitFor } from '../helpers/wait';

const N = 200;
/** The guarantee under test: the upstream request is gone this soon after its client. */
const ABORT_MS = 1000;
const OPEN_MS = 30_000;
const WATCH = '/api/v1/namespaces/ns1/pods?watch=1';
const FOLLOW = '/api/v1/namespaces/ns1/pods/web-1/log?follow=true';
const PORT_FORWARD = '/api/v1/namespaces/ns1/pods/web-1/portforward?ports=80';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds, for at most ABORT_MS from `since` (when the clients left). */
async function goneWithin(since: number, what: string, cond: () => boolean): Promise<void> {
  await waitFor(what, cond, Math.max(0, ABORT_MS - (Date.now() - since)), 5);
}

/** Connections open on the gateway's plain listener. */
function plainConnections(env: GatewayEnv): Promise<number> {
  const server = env.gw.app.listening.servers.find((s): s is http.Server => s instanceof http.Server)!;
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/** The apiserver neither gets a new connection nor keeps one open for a while after the abort. */
async function noRedial(fake: FakeKube, acceptedBefore: number): Promise<void> {
  for (let i = 0; i < 10; i++) {
    assert.equal(fake.connectionsAccepted, acceptedBefore, 'the gateway dialled the apiserver again after the abort');
    assert.equal(fake.connections, 0, 'a connection to the apiserver is open again');
    await sleep(50);
  }
}

describe('tunnel proxy: a client that leaves aborts its upstream request', () => {
  let env: GatewayEnv;
  let http1: FakeKube;
  let h1Base: string;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    http1 = await startFakeKube({ protocols: 'http1' });
    for (const f of [env.fake, http1]) f.addPod('ns1', 'web-1');
    await registerCluster(() => env.gw.app.runtime.context(), 'BCS-K8S-40031', credsOf(http1));
    h1Base = `${new URL(env.tunnelUrl('/')).origin}/tunnels/clusters/BCS-K8S-40031`;
  });
  after(async () => {
    await env?.stop();
    await http1?.stop();
  });

  const settled = async (): Promise<void> => {
    await waitFor('earlier requests to end upstream', () => env.fake.h2Streams === 0 && env.fake.streams.exec === 0 && http1.connections === 0, 5000);
  };

  it(`closes ${N} upstream HTTP/2 streams when ${N} HTTP/1.1 clients of watches leave at once`, async () => {
    await settled();
    const reqs = await openH1(env.tunnelUrl(WATCH), env.gw.adminToken, N);
    await waitFor('the watches to open upstream', () => env.fake.streams.watch === N, OPEN_MS);
    const left = Date.now();
    for (const r of reqs) r.destroy();
    await goneWithin(left, 'every upstream watch stream to close', () => env.fake.streams.watch === 0 && env.fake.h2Streams === 0);
    assert.ok(env.fake.h2Sessions >= 1, 'the session itself stays for other requests');
  });

  it(`closes ${N} upstream HTTP/1.1 connections, and dials no new ones, when ${N} HTTP/1.1 clients of watches leave at once`, async () => {
    await settled();
    const reqs = await openH1(`${h1Base}${WATCH}`, env.gw.adminToken, N);
    await waitFor('the watches to open upstream', () => http1.streams.watch === N && http1.connections === N, OPEN_MS);
    const accepted = http1.connectionsAccepted;
    const left = Date.now();
    for (const r of reqs) r.destroy();
    await goneWithin(left, 'every upstream watch connection to close', () => http1.streams.watch === 0 && http1.connections === 0);
    await noRedial(http1, accepted);
  });

  for (const how of ['cancelled stream by stream', 'dropped with their session'] as const) {
    it(`closes the upstream requests of ${N} HTTP/2 watches ${how}, over HTTP/2 and HTTP/1.1 to the apiserver`, async () => {
      await settled();
      const viaH2 = await openH2(env, `/tunnels/clusters/${env.identifier}${WATCH}`, N);
      const viaH1 = await openH2(env, `/tunnels/clusters/BCS-K8S-40031${WATCH}`, N);
      await waitFor('the watches to open upstream', () => env.fake.streams.watch === N && http1.streams.watch === N, OPEN_MS);
      const accepted = http1.connectionsAccepted;
      const left = Date.now();
      for (const c of [viaH2, viaH1]) {
        if (how === 'cancelled stream by stream') for (const s of c.streams) s.close(http2.constants.NGHTTP2_CANCEL);
        else c.session.destroy();
      }
      try {
        await goneWithin(left, 'every upstream watch to close', () => env.fake.streams.watch === 0 && env.fake.h2Streams === 0 && http1.streams.watch === 0 && http1.connections === 0);
        await noRedial(http1, accepted);
      } finally {
        viaH2.session.destroy();
        viaH1.session.destroy();
      }
    });
  }

  it(`closes ${N} upstream log follows (logs -f) when their clients leave, over either protocol`, async () => {
    await settled();
    const h1Clients = await openH1(`${h1Base}${FOLLOW}`, env.gw.adminToken, N);
    const h2Clients = await openH2(env, `/tunnels/clusters/${env.identifier}${FOLLOW}`, N);
    await waitFor('the follows to open upstream', () => http1.streams.log === N && env.fake.streams.log === N, OPEN_MS);
    const accepted = http1.connectionsAccepted;
    const left = Date.now();
    for (const r of h1Clients) r.destroy();
    for (const s of h2Clients.streams) s.close(http2.constants.NGHTTP2_CANCEL);
    try {
      await goneWithin(left, 'every upstream follow to close', () => http1.streams.log === 0 && http1.connections === 0 && env.fake.streams.log === 0 && env.fake.h2Streams === 0);
      await noRedial(http1, accepted);
    } finally {
      h2Clients.session.destroy();
    }
  });

  for (const [kind, over] of [
    ['websocket', 'plain'],
    ['spdy', 'tls'],
  ] as const) {
    it(`closes ${N} upstream port-forward connections (${kind}, ${over} listener) when their clients leave`, async () => {
      await settled();
      const before = env.fake.connections;
      const sessions = await Promise.all(Array.from({ length: N }, () => openUpgrade(env, PORT_FORWARD, kind, over)));
      assert.ok(sessions.every((s) => s.head.startsWith('HTTP/1.1 101 ')), sessions[0]?.head);
      await waitFor('the sessions to open upstream', () => env.fake.streams.exec === N, OPEN_MS);
      assert.equal(env.fake.connections, before + N);
      const left = Date.now();
      for (const s of sessions) s.socket.destroy();
      await goneWithin(left, 'every upstream upgrade connection to close', () => env.fake.streams.exec === 0 && env.fake.connections === before);
    });
  }

  it('closes the upstream connection of an upgrade whose client leaves before the apiserver answers', async () => {
    await settled();
    const before = env.fake.connections;
    const clientsBefore = await plainConnections(env);
    const n = 50;
    const stalled = env.fake.delayResponses(3000, { upgrade: true });
    const port = Number(new URL(env.tunnelUrl('/')).port);
    const path = `/tunnels/clusters/${env.identifier}${PORT_FORWARD}&early-leave=1`;
    const sockets = Array.from({ length: n }, () => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.write(
        `GET ${path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${env.gw.adminToken}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: portforward.k8s.io\r\n\r\n',
      );
      return s;
    });
    try {
      await waitFor('the upgrade requests to wait at the apiserver', () => env.fake.requestsTo(/early-leave=1/).length === n && env.fake.connections === before + n, OPEN_MS);
      const left = Date.now();
      for (const s of sockets) s.destroy();
      await goneWithin(left, 'the waiting upstream connections to close', () => env.fake.connections === before);
      // The clients' own sockets go too: they are only half-closed on the gateway's side (upgrade sockets allow it).
      await waitFor('the gateway to close the client sockets', async () => (await plainConnections(env)) === clientsBefore, ABORT_MS);
    } finally {
      stalled();
      for (const s of sockets) s.destroy();
    }
  });

  it('leaves no connection to an HTTP/1.1 apiserver behind when it ends watches and follows itself', async () => {
    await settled();
    const reqs = [...(await openH1(`${h1Base}${WATCH}`, env.gw.adminToken, 20)), ...(await openH1(`${h1Base}${FOLLOW}`, env.gw.adminToken, 20))];
    const ended = reqs.map((r) => new Promise((resolve) => r.once('close', resolve)));
    try {
      await waitFor('the requests to open upstream', () => http1.streams.watch === 20 && http1.streams.log === 20, OPEN_MS);
      http1.closeWatches();
      http1.endLogs('ns1', 'web-1');
      await Promise.all(ended);
      await waitFor('the upstream connections to close', () => http1.connections === 0, 3000);
    } finally {
      for (const r of reqs) r.destroy();
    }
  });

  it('cuts a watch over an HTTP/1.1 apiserver when its cluster is deleted', async () => {
    await settled();
    await registerCluster(() => env.gw.app.runtime.context(), 'BCS-K8S-40032', credsOf(http1));
    const [req] = await openH1(`${new URL(env.tunnelUrl('/')).origin}/tunnels/clusters/BCS-K8S-40032${WATCH}`, env.gw.adminToken, 1);
    let closed = false;
    req!.once('close', () => (closed = true));
    try {
      await waitFor('the watch to open upstream', () => http1.streams.watch === 1, OPEN_MS);
      const ctx = env.gw.app.runtime.context();
      const admin = await ctx.em.findOneOrFail(ApiToken, { digest: sha256Hex(env.gw.adminToken) }, { populate: ['user'] });
      await deleteCluster(ctx, { user: admin.user.getEntity(), token: admin }, 'BCS-K8S-40032');
      await waitFor('the watch to be cut', () => closed && http1.streams.watch === 0 && http1.connections === 0, 3000);
    } finally {
      req!.destroy();
    }
  });

  for (const listener of ['HTTP/1.1', 'HTTP/2'] as const) {
    it(`sends nothing upstream for a client that left (${listener}) before its request was forwarded`, async () => {
      // As when the token or cluster had to be read from the store first: the client's 'close' came and went.
      const upstream = new ClusterUpstream({ clusterId: 'c', serverAddresses: [env.fake.url], caCertData: env.fake.caPem, userToken: env.fake.token } as ClusterSecrets, {
        serverName: 'kubernetes',
        healthIntervalMs: 60_000,
        connectTimeoutMs: 5000,
      });
      const admitted = {
        principal: {},
        cluster: { id: 'c', identifier: 'c', upstream },
        upstreamPath: `${WATCH}&left-early=${listener === 'HTTP/2' ? 2 : 1}`,
        headers: { authorization: `Bearer ${env.fake.token}` },
      } as unknown as Admitted;
      let result: ForwardResult | undefined;
      const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
        res.once('close', () => setImmediate(() => forward(req, res, admitted, { responseTimeoutMs: 5000, longRunning: true }, (r) => (result = r))));
      };
      const certs = generateCerts();
      const server = listener === 'HTTP/2' ? http2.createSecureServer({ key: certs.keyPem, cert: certs.certPem }, handler as never) : http.createServer(handler);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const { port } = server.address() as net.AddressInfo;
      try {
        if (listener === 'HTTP/2') {
          const session = http2.connect(`https://127.0.0.1:${port}`, { ca: certs.caPem, servername: 'localhost' });
          session.on('error', () => undefined);
          const s = session.request({ ':path': '/' });
          s.on('error', () => undefined);
          setTimeout(() => session.destroy(), 100);
        } else {
          const req = http.get(`http://127.0.0.1:${port}/`, { agent: false });
          req.on('error', () => undefined);
          setTimeout(() => req.destroy(), 100);
        }
        await waitFor('the exchange to be reported', () => result, 3000);
        assert.equal(result!.status, 499);
        await sleep(300);
        assert.equal(env.fake.requestsTo(/left-early/).length, 0, 'the request went upstream');
      } finally {
        upstream.destroy();
        await new Promise((r) => server.close(r));
      }
    });
  }
});
