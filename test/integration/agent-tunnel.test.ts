/**
 * `bcs-api agent --use-websocket` as a process, against a fake tunnel server built on the shared wire
 * codec: the handshake, Connect limited to the reported apiserver, data both ways with flow control,
 * reconnects, a refused handshake, and /healthz.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { getHealthz, podEnv, spawnAgent, writeServiceAccount, type AgentProcess } from '../helpers/agent';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { FakeTunnelServer, type TunnelPeer, type VirtualConn } from '../helpers/fake-tunnel-server';
import { waitFor } from '../helpers/wait';

const REGISTER_TOKEN = `tunnel-register-token-${randomBytes(6).toString('hex')}`;

/** A plain TCP "apiserver" that echoes, so the test sees each connection the agent opens and closes. */
async function echoServer() {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => sockets.size,
    accepted: () => accepted,
    stop: () => new Promise((r) => server.close(r)),
  };
}

function readAll(conn: VirtualConn, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    conn.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size >= bytes) resolve(Buffer.concat(chunks));
    });
    conn.on('error', reject);
    conn.on('end', () => reject(new Error(`ended after ${size} of ${bytes} bytes (${conn.remoteError})`)));
  });
}

/** An HTTPS GET to the fake apiserver, over a virtual connection of the tunnel. */
function getThrough(peer: TunnelPeer, address: string, fake: FakeKube, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { method: 'GET', path, headers: { authorization: `Bearer ${fake.token}`, host: 'kubernetes' }, createConnection: () => tls.connect({ socket: peer.dial(address), ca: fake.caPem, servername: 'kubernetes' }) },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('bcs-api agent: websocket tunnel', { timeout: 180_000 }, () => {
  let server: FakeTunnelServer;
  let fake: FakeKube;
  let saDir = '';
  const agents: AgentProcess[] = [];

  before(async () => {
    server = await FakeTunnelServer.start();
    fake = await startFakeKube({ protocols: 'http1' });
    saDir = writeServiceAccount(fake.token, fake.caPem);
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await server?.stop();
    await fake?.stop();
    if (saDir) fs.rmSync(saDir, { recursive: true, force: true });
  });

  const start = (apiserverPort: number, args: string[] = []): AgentProcess => {
    const a = spawnAgent(['--bke-address', server.url, '--cluster-id', 'BCS-K8S-TUN', '--use-websocket', '--periodsync', '1', ...args], podEnv({ saDir, apiserverPort, registerToken: REGISTER_TOKEN, serverCert: server.caPem }));
    agents.push(a);
    return a;
  };

  it('handshakes with the original headers; Connect reaches the reported apiserver and nothing else; /healthz follows the tunnel', async () => {
    const agent = start(fake.port);
    const peer = await waitFor('a tunnel session', () => server.sessions[0], 20_000);
    const h = server.handshakes[0]!;
    assert.equal(h['bcs-api-tunnel-module'], 'kube-agent');
    assert.equal(h['bcs-api-tunnel-clusterid'], 'BCS-K8S-TUN');
    assert.equal(h['bcs-api-tunnel-token'], REGISTER_TOKEN);
    const params = JSON.parse(Buffer.from(String(h['bcs-api-tunnel-params']), 'base64').toString('utf8'));
    assert.deepEqual(params, { address: `https://127.0.0.1:${fake.port}`, userToken: fake.token, caCert: Buffer.from(fake.caPem).toString('base64'), agentTls: true });

    const version = await getThrough(peer, `127.0.0.1:${fake.port}`, fake, '/version');
    assert.equal(version.status, 200, version.body);
    assert.match(version.body, /gitVersion/);

    for (const [proto, address] of [['tcp', `127.0.0.1:${fake.port + 1}`], ['tcp', `localhost:${fake.port}`], ['unix', '/var/run/docker.sock'], ['tcp', '169.254.169.254:80'], ['tls', `127.0.0.1:${fake.port + 1}`], ['tls', `localhost:${fake.port}`], ['tls', '169.254.169.254:443']]) {
      const conn = peer.dial(address!, proto);
      await assert.rejects(readAll(conn, 1), new RegExp(`connect to ${address!.replace(/[.]/g, '\\.')} not allowed`));
    }
    await agent.waitForLog('tunnel Connect refused');
    const health = await getHealthz(await agent.healthPort());
    assert.equal(health.status, 200, health.body);
    assert.match(health.body, /tunnel connected/);
    await waitFor('a keepalive ping from the agent', () => peer.pings > 0, 15_000, 100);
    await agent.stop();
    assert.equal(await agent.exitCode(), 0);
    for (const secret of [REGISTER_TOKEN, fake.token]) assert.ok(!agent.stdout().includes(secret) && !agent.stderr().includes(secret));
  });

  it('pipes bulk data both ways in order, closes on EOF, and closes every virtual connection when the session drops, then redials', async () => {
    const echo = await echoServer();
    const agent = start(echo.port);
    const before = server.sessions.length;
    const peer = await waitFor('a tunnel session', () => server.sessions[before], 20_000);
    const port = await agent.healthPort();
    await waitFor('/healthz 200', async () => (await getHealthz(port)).status === 200, 10_000);

    // More than the agent's high-water marks, several connections at once, so pausing and resuming run.
    const payloads = [randomBytes(6 * 1024 * 1024), randomBytes(3 * 1024 * 1024)];
    const conns = payloads.map(() => peer.dial(`127.0.0.1:${echo.port}`));
    const echoed = await Promise.all(
      conns.map((c, i) => {
        const back = readAll(c, payloads[i]!.length);
        for (let at = 0; at < payloads[i]!.length; at += 64 * 1024) c.write(payloads[i]!.subarray(at, at + 64 * 1024));
        return back;
      }),
    );
    echoed.forEach((b, i) => assert.ok(b.subarray(0, payloads[i]!.length).equals(payloads[i]!), `connection ${i} echoed out of order or short`));

    conns[0]!.end();
    await waitFor('the EOF closing the first connection', () => echo.open() === 1, 10_000);
    assert.equal(echo.accepted(), 2);

    peer.ws.terminate();
    await waitFor('virtual connections closed with the session', () => echo.open() === 0, 10_000);
    const again = await waitFor('a second session', () => server.sessions[before + 1], 20_000);
    await waitFor('/healthz 200 again', async () => (await getHealthz(port)).status === 200, 10_000);
    const conn = again.dial(`127.0.0.1:${echo.port}`);
    const back = readAll(conn, 5);
    conn.write('again');
    assert.equal((await back).toString(), 'again');
    assert.equal(server.handshakes.at(-1)!['bcs-api-tunnel-token'], REGISTER_TOKEN);
    await agent.stop();
    await echo.stop();
  });

  it('redials to hand over a rotated service-account token', async () => {
    const agent = start(fake.port);
    const before = server.sessions.length;
    await waitFor('a tunnel session', () => server.sessions[before], 20_000);
    const rotated = `rotated-${randomBytes(6).toString('hex')}`;
    fs.writeFileSync(`${saDir}/token`, rotated);
    try {
      await waitFor('a session with the new token', () => server.sessions.length > before + 1, 20_000, 100);
      const params = JSON.parse(Buffer.from(String(server.handshakes.at(-1)!['bcs-api-tunnel-params']), 'base64').toString('utf8'));
      assert.equal(params.userToken, rotated);
      await agent.waitForLog('service-account token rotated');
    } finally {
      fs.writeFileSync(`${saDir}/token`, fake.token);
    }
    await agent.stop();
    assert.ok(!agent.stdout().includes(rotated));
  });

  it('backs off after a 401, says so without the token, reports 503 and exits 1 after --give-up-after', async () => {
    server.refuseWith = 401;
    try {
      const before = server.handshakes.length;
      const agent = start(fake.port, ['--give-up-after', '4']);
      const line = await agent.waitForLog('the gateway refused the tunnel');
      assert.equal(line['status'], 401);
      const health = await getHealthz(await agent.healthPort());
      assert.equal(health.status, 503);
      assert.match(health.body, /not ok: tunnel not connected/);
      assert.equal(await agent.exitCode(), 1);
      await agent.waitForLog('no tunnel accepted for --give-up-after');
      const attempts = server.handshakes.length - before;
      // Backoff: a few attempts in 4 s, not a tight loop.
      assert.ok(attempts >= 2 && attempts <= 6, `handshake attempts: ${attempts}`);
      for (const secret of [REGISTER_TOKEN, fake.token]) assert.ok(!agent.stdout().includes(secret) && !agent.stderr().includes(secret));
    } finally {
      server.refuseWith = undefined;
    }
  });
});
