/**
 * Large bodies through the tunnel proxy: relayed whole, byte for byte, over HTTP/1.1 and HTTP/2 on both
 * sides; and a client that stops reading makes the gateway stop reading the apiserver, holding no more
 * than a high-water mark of the body itself (the rest stays with the apiserver).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ClusterSecrets } from '../../src/domain/credentials';
import { BODY_HIGH_WATER } from '../../proxy/k8s/body-writer';
import { forward, type ForwardResult } from '../../proxy/k8s/forward';
import type { Admitted } from '../../proxy/k8s/pipeline';
import { ClusterUpstream } from '../../proxy/k8s/upstream';
import { startGatewayEnv, type GatewayEnv } from '../helpers/gateway-env';
import { waitFor } from '../helpers/wait';

const MIB = 1048576;
const LOG = '/api/v1/namespaces/ns1/pods/big-1/log';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A log of `mib` MiB in 100-byte numbered lines (a dropped or repeated chunk changes the digest). */
function bigLog(mib: number): string {
  const lines: string[] = [];
  for (let i = 0; i < Math.floor((mib * MIB) / 100); i++) lines.push(`${String(i).padStart(12, '0')} ${'x'.repeat(86)}\n`);
  return lines.join('');
}

/** Reads a body whole over HTTP/1.1 or as a stream of an h2 session; `pauseMs` first stops reading after the first chunk. */
function fetchBody(o: { url: string; token: string; h2?: { ca: string }; pauseMs?: number }): Promise<{ status: number; digest: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    const consume = (status: number, body: NodeJS.ReadableStream): void => {
      let paused = false;
      body.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
        if (o.pauseMs && !paused) {
          paused = true;
          body.pause();
          setTimeout(() => body.resume(), o.pauseMs);
        }
      });
      body.once('end', () => resolve({ status, digest: hash.digest('hex'), bytes }));
      body.once('error', reject);
    };
    const u = new URL(o.url);
    if (o.h2) {
      const session = http2.connect(u.origin, { ca: o.h2.ca, servername: 'localhost' });
      session.on('error', reject);
      const s = session.request({ ':path': u.pathname + u.search, authorization: `Bearer ${o.token}` });
      s.once('response', (h) => consume(Number(h[':status']), s));
      s.once('close', () => session.close());
      return;
    }
    http.get(o.url, { headers: { authorization: `Bearer ${o.token}` }, agent: false }, (res) => consume(res.statusCode ?? 0, res)).on('error', reject);
  });
}

describe('tunnel proxy: large bodies', () => {
  let env: GatewayEnv;
  let log: string;
  let digest: string;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('ns1', 'big-1');
    log = bigLog(24);
    digest = crypto.createHash('sha256').update(log).digest('hex');
    env.fake.appendLog('ns1', 'big-1', log);
  });
  after(async () => env?.stop());

  for (const client of ['HTTP/1.1', 'HTTP/2'] as const) {
    for (const upstream of ['HTTP/1.1', 'HTTP/2'] as const) {
      it(`relays a ${24} MiB log whole to an ${client} client, ${upstream} to the apiserver`, async () => {
        // Follows go over HTTP/2 to the apiserver, other GETs over the HTTP/1.1 pool; the fake ends the follow once it has written the log.
        const path = upstream === 'HTTP/2' ? `${LOG}?follow=true` : LOG;
        const base = client === 'HTTP/2' ? `${env.httpsUrl}/tunnels/clusters/${env.identifier}${path}` : env.tunnelUrl(path);
        const body = fetchBody({ url: base, token: env.gw.adminToken, h2: client === 'HTTP/2' ? { ca: env.gatewayCaPem } : undefined });
        if (upstream === 'HTTP/2') {
          await waitFor('the follow to open upstream', () => env.fake.streams.log === 1, 5000);
          env.fake.endLogs('ns1', 'big-1');
        }
        const got = await body;
        assert.equal(got.status, 200);
        assert.equal(got.bytes, log.length);
        assert.equal(got.digest, digest);
      });
    }
  }
});

describe('tunnel proxy: a slow reader holds the apiserver back, not the gateway', () => {
  let env: GatewayEnv;
  const MB = 32;
  const length = Math.floor((MB * MIB) / 100) * 100;

  before(async () => {
    env = await startGatewayEnv('sqlite');
    env.fake.addPod('ns1', 'big-1');
    env.fake.appendLog('ns1', 'big-1', bigLog(MB));
  });
  after(async () => env?.stop());

  /**
   * forward() on a listener of the test's own, so the response the gateway writes is at hand: what
   * waits in it for the client (`writableLength`) is the body the gateway holds in memory.
   */
  for (const upstreamProtocol of ['HTTP/1.1', 'HTTP/2'] as const) {
    it(`keeps at most about a high-water mark queued for a client that stops reading (${upstreamProtocol} to the apiserver)`, async () => {
      const upstream = new ClusterUpstream({ clusterId: 'c', serverAddresses: [env.fake.url], caCertData: env.fake.caPem, userToken: env.fake.token } as ClusterSecrets, {
        serverName: 'kubernetes',
        healthIntervalMs: 60_000,
        connectTimeoutMs: 5000,
      });
      const follow = upstreamProtocol === 'HTTP/2';
      const admitted = {
        principal: {},
        cluster: { id: 'c', identifier: 'c', upstream },
        upstreamPath: follow ? `${LOG}?follow=true` : LOG,
        headers: { authorization: `Bearer ${env.fake.token}` },
      } as unknown as Admitted;
      let queuedMax = 0;
      let result: ForwardResult | undefined;
      let sampler: NodeJS.Timeout | undefined;
      const server = http.createServer((req, res) => {
        sampler = setInterval(() => (queuedMax = Math.max(queuedMax, res.writableLength)), 2);
        forward(req, res, admitted, { responseTimeoutMs: 5000, longRunning: follow }, (r) => (result = r));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${LOG}`;
        const body = fetchBody({ url, token: 'unused', pauseMs: 1500 });
        if (follow) {
          await waitFor('the follow to open upstream', () => env.fake.streams.log === 1, 5000);
          env.fake.endLogs('ns1', 'big-1');
        }
        const got = await body;
        assert.equal(got.bytes, length, 'the body arrives whole once the client reads again');
        await waitFor('the exchange to be reported', () => result !== undefined, 2000);
        assert.equal(result!.bytesOut, length, 'the bytes counted for the audit line');
        // One turn's batch may pass the mark by the chunks that arrived in it (at most one socket read).
        assert.ok(queuedMax < BODY_HIGH_WATER + 256 * 1024, `the gateway queued ${queuedMax} bytes for a client that did not read`);
        assert.ok(queuedMax > 0, 'the sampler saw the queue');
      } finally {
        clearInterval(sampler);
        server.close();
        upstream.destroy();
        await sleep(50);
      }
    });
  }
});
