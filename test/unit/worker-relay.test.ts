import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { PeerDialer } from '../../proxy/peers/dialer';
import { PeerDialEndpoint } from '../../proxy/peers/endpoint';
import { PeerMetrics } from '../../proxy/peers/metrics';
import { WorkerHolderMap } from '../../proxy/peers/worker-holders';
import { listenForWorkers } from '../../proxy/peers/worker-listener';
import { DriverTunnels } from '../../proxy/tunnel/driver-tunnels';
import { TunnelRegistry } from '../../proxy/tunnel/registry';
import { createLogger } from '../../src/log';
import type { WorkerRelaySide } from '../../src/workers/holder-feed';
import type { HolderMap } from '../../src/workers/messages';

const WORKER_SECRET = 'a1'.repeat(32);
const PEER_SECRET = 'b2'.repeat(32);
const CLUSTER = 'BCS-K8S-1';
const logger = createLogger('silent');

/** A relay side whose map the test sets, as the primary's broadcast would. */
function fakeSide(workerId: string, map: HolderMap): WorkerRelaySide & { set(map: HolderMap): void } {
  const listeners: ((m: HolderMap) => void)[] = [];
  let current = map;
  return {
    workerId,
    socketPath: '',
    secret: WORKER_SECRET,
    publish: () => undefined,
    map: () => current,
    onMap: (l) => void listeners.push(l),
    set(m) {
      current = m;
      for (const l of listeners) l(m);
    },
  };
}

/** Writes `data` and reads until as many bytes came back. */
function echo(conn: Duplex, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    conn.on('data', (c: Buffer) => {
      got += c.toString();
      if (got.length >= data.length) {
        conn.destroy();
        resolve(got);
      }
    });
    conn.on('error', reject);
    conn.write(data);
  });
}

describe('relay between workers', () => {
  let dir: string;
  let echoServer: net.Server;
  let target: string;
  let holderListener: { close(): Promise<void> };
  let peerListener: http.Server;
  let peerUrl: string;
  let holders: WorkerHolderMap;
  let workerDialer: PeerDialer;
  let side: ReturnType<typeof fakeSide>;
  let map: HolderMap;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-relay-test-'));
    // The tunnel's far end: an echo server standing in for the apiserver the agent dials.
    echoServer = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echoServer.listen(0, '127.0.0.1', r));
    target = `127.0.0.1:${(echoServer.address() as AddressInfo).port}`;
    // Worker 2 holds the cluster's tunnel (a session whose virtual connections are TCP to the echo server).
    const registry2 = new TunnelRegistry();
    const session = { clusterId: CLUSTER, isOpen: true, params: { hostPort: target, address: `https://${target}` }, dial: (hp: string) => net.connect(Number(hp.split(':')[1]), '127.0.0.1') };
    registry2.add(session as never);
    const socket2 = path.join(dir, '2.sock');
    holderListener = await listenForWorkers(socket2, new PeerDialEndpoint(WORKER_SECRET, registry2, new DriverTunnels({}, 1000), 1000, new PeerMetrics(new Registry(), 'worker'), logger));
    map = { '1': { socket: path.join(dir, '1.sock'), holdings: [] }, '2': { socket: socket2, holdings: [{ owner: 'o2', module: 'kube-agent', clusterId: CLUSTER, target, address: `https://${target}` }] } };
    // Worker 1 holds nothing: it knows worker 2's tunnel from the map, and serves peers' relays for it.
    side = fakeSide('1', map);
    holders = new WorkerHolderMap(side);
    workerDialer = new PeerDialer({ secret: WORKER_SECRET }, 1000, new PeerMetrics(new Registry(), 'worker'), false, (url) => holders.socketOf(url));
    const elsewhere = (r: { clusterId: string; module: 'kube-agent' | 'mesos-driver' | 'k8s-driver'; target: string }) =>
      holders.holders(r.clusterId, r.module).map((h) => ({ params: { hostPort: h.target }, dial: (t: string) => workerDialer.dial(h.url, { ...r, target: t }) }));
    const endpoint1 = new PeerDialEndpoint(PEER_SECRET, new TunnelRegistry(), new DriverTunnels({}, 1000), 1000, new PeerMetrics(new Registry()), logger, elsewhere);
    peerListener = http.createServer((_q, s) => void s.writeHead(404).end());
    peerListener.on('upgrade', (req, socket, head) => endpoint1.handle(req, socket, head, { baseUrl: '', remoteAddress: '127.0.0.1', requestId: 'r' }));
    await new Promise<void>((r) => peerListener.listen(0, '127.0.0.1', r));
    peerUrl = `http://127.0.0.1:${(peerListener.address() as AddressInfo).port}`;
  });
  after(async () => {
    await holderListener?.close();
    peerListener?.close();
    echoServer?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('knows the other workers\' tunnels from the map, not its own, and says which clusters changed', () => {
    assert.deepEqual(holders.clusters('kube-agent'), [CLUSTER]);
    const [h] = holders.holders(CLUSTER, 'kube-agent');
    assert.equal(holders.socketOf(new URL(h!.url)), path.join(dir, '2.sock'));
    const changed: string[] = [];
    holders.onChange((id) => changed.push(id));
    side.set({ ...map, '3': { socket: path.join(dir, '3.sock'), holdings: [] } });
    assert.deepEqual(changed, [], 'an unchanged cluster is not announced');
    side.set({ '1': { socket: path.join(dir, '1.sock'), holdings: [{ owner: 'o1', module: 'kube-agent', clusterId: 'BCS-K8S-OWN', target, address: '' }] } });
    assert.deepEqual(changed, [CLUSTER], 'a cluster whose holder went is announced');
    assert.deepEqual(holders.clusters('kube-agent'), [], 'this worker\'s own tunnels are not relayed to');
    side.set(map);
  });

  it('opens a connection through the holding worker\'s tunnel over its socket', async () => {
    const [h] = holders.holders(CLUSTER, 'kube-agent');
    assert.equal(await echo(workerDialer.dial(h!.url, { clusterId: CLUSTER, module: 'kube-agent', target }), 'through-worker-2'), 'through-worker-2');
  });

  it('refuses a dial signed with another secret', async () => {
    const [h] = holders.holders(CLUSTER, 'kube-agent');
    const wrong = new PeerDialer({ secret: PEER_SECRET }, 1000, new PeerMetrics(new Registry(), 'worker'), false, (url) => holders.socketOf(url));
    await assert.rejects(echo(wrong.dial(h!.url, { clusterId: CLUSTER, module: 'kube-agent', target }), 'x'), /401/);
  });

  it('serves a replica\'s relay for a tunnel another worker holds (replicas reach any worker on the shared port)', async () => {
    const replica = new PeerDialer({ secret: PEER_SECRET }, 1000, new PeerMetrics(new Registry()), false);
    assert.equal(await echo(replica.dial(peerUrl, { clusterId: CLUSTER, module: 'kube-agent', target }), 'replica-via-worker-1'), 'replica-via-worker-1');
  });
});
