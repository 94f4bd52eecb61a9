import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../../src/domain/auth';
import { createGrant } from '../../src/domain/rbac-grants';
import { readSyncStatus } from '../../src/domain/rbac-sync-status';
import { issueToken } from '../../src/domain/tokens';
import { createUser } from '../../src/domain/users';
import { RbacReconciler } from '../../src/rbac/reconciler';
import { startTestRuntime, type TestRuntime } from '../helpers/app';
import { startFakeKube, type FakeKube } from '../helpers/fake-kube';
import { bindingsFor, waitUntil } from '../helpers/rbac';
import { credsOf, registerCluster } from '../helpers/clusters';

/** Accepts TCP connections and never answers: a cluster whose apiserver hangs. */
async function blackhole(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('RBAC reconciler: one hanging cluster does not hold up the others', () => {
  let t: TestRuntime;
  let fake: FakeKube;
  let hole: Awaited<ReturnType<typeof blackhole>>;
  let reconciler: RbacReconciler;

  before(async () => {
    t = await startTestRuntime('sqlite');
    fake = await startFakeKube();
    hole = await blackhole();
    const ctx = () => t.rt.context();
    const root = await createUser(ctx(), undefined, { name: 'root', isSuperUser: true });
    const admin = await authenticate(ctx().em, (await issueToken(ctx(), undefined, root, {})).secret, new Date());
    await createUser(ctx(), undefined, { name: 'plain:alice' });
    for (const [id, address] of [['BCS-K8S-HANG', hole.url], ['BCS-K8S-OK', fake.url]] as const) {
      await registerCluster(ctx, id, credsOf(fake, address));
    }
    // A long per-request timeout: the hanging cluster keeps its sync busy for the whole test.
    reconciler = new RbacReconciler(t.rt, { intervalMs: 3_600_000, sources: ['graphql'], concurrency: 2, requestTimeoutMs: 60_000, debounceMs: 10 });
    await reconciler.start();
    await createGrant(ctx(), admin, { subjectKind: 'User', subjectName: 'plain:alice', clusterId: null, scope: 'cluster', template: 'cluster-readonly' });
  });
  after(async () => {
    hole?.close();
    await reconciler?.stop();
    await fake?.stop();
    await t?.stop();
  });

  it('applies an every-cluster grant to the live cluster while the other hangs', async () => {
    await waitUntil('the binding in the live cluster', () => bindingsFor(fake, 'clusterrolebindings', 'plain.alice', 'bke-cluster-readonly').length === 1);
    const ok = await waitUntil('the live cluster status', async () => {
      const s = await readSyncStatus(t.rt.orm.em.fork(), 'BCS-K8S-OK');
      return s.result === 'ok' ? s : undefined;
    });
    assert.equal(ok.server, fake.url);
    const hanging = await readSyncStatus(t.rt.orm.em.fork(), 'BCS-K8S-HANG');
    assert.equal(hanging.result, null, 'still in its first attempt');
  });
});

describe('RBAC reconciler: a failing cluster is retried with backoff until it recovers', () => {
  let t: TestRuntime;
  let fake: FakeKube;
  let reconciler: RbacReconciler;

  before(async () => {
    t = await startTestRuntime('sqlite');
    fake = await startFakeKube();
    const ctx = () => t.rt.context();
    await registerCluster(ctx, 'BCS-K8S-FLAKY', credsOf(fake));
    await createUser(ctx(), undefined, { name: 'plain:alice' });
  });
  after(async () => {
    await reconciler?.stop();
    await fake?.stop();
    await t?.stop();
  });

  it('records each failure, retries on its own, and succeeds once the cluster answers again', async () => {
    const remove = fake.addFault({ match: { path: /^\/apis\/rbac\.authorization\.k8s\.io\// }, action: { kind: 'respond', code: 503, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'apiserver overloaded', code: 503 } } });
    reconciler = new RbacReconciler(t.rt, { intervalMs: 3_600_000, sources: ['graphql'], debounceMs: 10, backoff: { initialMs: 100, maxMs: 400 } });
    await reconciler.start();
    const ctx = t.rt.context();
    const root = await createUser(ctx, undefined, { name: 'root', isSuperUser: true });
    const admin = await authenticate(ctx.em, (await issueToken(ctx, undefined, root, {})).secret, new Date());
    await createGrant(t.rt.context(), admin, { subjectKind: 'User', subjectName: 'plain:alice', clusterId: 'BCS-K8S-FLAKY', scope: 'cluster', template: 'cluster-readonly' });
    const failing = await waitUntil('two failed attempts', async () => {
      const s = await readSyncStatus(t.rt.orm.em.fork(), 'BCS-K8S-FLAKY');
      return s.consecutiveFailures >= 2 ? s : undefined;
    });
    assert.equal(failing.result, 'failed');
    assert.match(failing.lastError ?? '', /503: apiserver overloaded/);
    assert.ok(failing.nextRetryAt);
    remove();
    const ok = await waitUntil('recovery without any new trigger', async () => {
      const s = await readSyncStatus(t.rt.orm.em.fork(), 'BCS-K8S-FLAKY');
      return s.result === 'ok' ? s : undefined;
    });
    assert.equal(ok.trigger, 'retry');
    assert.equal(ok.consecutiveFailures, 0);
    assert.equal(bindingsFor(fake, 'clusterrolebindings', 'plain.alice', 'bke-cluster-readonly').length, 1);
  });
});
