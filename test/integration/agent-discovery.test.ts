/**
 * The agent's in-cluster discovery against the fake apiserver, through the environment a pod has: the
 * service-account directory and KUBERNETES_SERVICE_HOST/PORT.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { discoverApiservers, endpointTargets, probeApiserver, readServiceAccount } from '../../src/agent/incluster';
import { writeServiceAccount } from '../helpers/agent';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';

describe('bcs-api agent: in-cluster discovery', { timeout: 60_000 }, () => {
  let fake: FakeKube;
  let other: FakeKube;
  let saDir: string;
  const service = () => ({ host: '127.0.0.1', port: fake.port });

  before(async () => {
    fake = await startFakeKube({ protocols: 'http1' });
    // Another "apiserver" under a different CA: reachable, but not this cluster's.
    other = await startFakeKube({ protocols: 'http1' });
    saDir = writeServiceAccount(fake.token, fake.caPem);
    fake.apply({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'kubernetes', namespace: 'default' },
      subsets: [
        // 127.0.0.3: loopback, but nothing listens there (the fake binds 127.0.0.1 only).
        { addresses: [{ ip: '127.0.0.3' }, { ip: '127.0.0.1' }], ports: [{ name: 'https', port: fake.port, protocol: 'TCP' }] },
        { addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port: other.port, protocol: 'TCP' }] },
        { addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'metrics', port: 1 }] },
      ],
    } as never);
  });
  after(async () => {
    await fake?.stop();
    await other?.stop();
    fs.rmSync(saDir, { recursive: true, force: true });
  });

  it('reads default/kubernetes with the pod token and reports only the addresses that answer with the in-cluster CA', async () => {
    const warnings: string[] = [];
    const sa = readServiceAccount(saDir);
    const found = await discoverApiservers(service(), sa, (m) => warnings.push(m));
    assert.deepEqual(found, [`https://127.0.0.1:${fake.port}`]);
    assert.ok(warnings.some((w) => w.includes('left out')), warnings.join('; '));
    const get = fake.requestsTo('/api/v1/namespaces/default/endpoints/kubernetes');
    assert.ok(get.length >= 1);
    assert.deepEqual(get.at(-1)!.header('authorization'), [`Bearer ${fake.token}`]);
  });

  it('takes the port named https of each subset, and checks the chain against the in-cluster CA', async () => {
    assert.deepEqual(endpointTargets([{ addresses: [{ ip: '10.0.0.2' }, { ip: 'not-an-ip' }], ports: [{ name: 'x', port: 1 }, { name: 'https', port: 6443 }] }]), [{ ip: '10.0.0.2', port: 6443 }]);
    assert.equal(await probeApiserver('127.0.0.1', fake.port, fake.caPem), true);
    assert.equal(await probeApiserver('127.0.0.1', other.port, fake.caPem), false);
    assert.equal(await probeApiserver('127.0.0.3', fake.port, fake.caPem), false);
  });

  it('falls back to the service address when the Endpoints cannot be read', async () => {
    const warnings: string[] = [];
    const found = await discoverApiservers(service(), { token: 'not-the-token', caPem: fake.caPem }, (m) => warnings.push(m));
    assert.deepEqual(found, [`https://127.0.0.1:${fake.port}`]);
    assert.ok(warnings.some((w) => w.includes('cannot read the apiserver endpoints')));
    // An apiserver that does not chain to the in-cluster CA never sees the token.
    const withToken = () => fake.requestsTo('/api/v1/namespaces/default/endpoints/kubernetes').filter((r) => r.header('authorization')[0] === `Bearer ${fake.token}`).length;
    const before = withToken();
    const untrusted = await discoverApiservers(service(), { token: fake.token, caPem: other.caPem }, () => undefined);
    assert.deepEqual(untrusted, [`https://127.0.0.1:${fake.port}`]);
    assert.equal(withToken(), before);
  });

  it('re-reads a rotated token from the mount', () => {
    const dir = writeServiceAccount('first', fake.caPem);
    try {
      assert.equal(readServiceAccount(dir).token, 'first');
      // The kubelet swaps the ..data symlink; what the agent sees is new content at the same path.
      fs.writeFileSync(path.join(dir, 'token'), 'second\n');
      assert.equal(readServiceAccount(dir).token, 'second');
      fs.writeFileSync(path.join(dir, 'token'), '');
      assert.throws(() => readServiceAccount(dir), /empty/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
