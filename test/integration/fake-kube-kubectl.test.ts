import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { echoThrough, kubectl, spawnKubectl, startFakeKube, startPortForward, type FakeKube } from '../helpers/fake-kube';

/** The fixture against the real kubectl: if these fail, the gateway's kubectl tests would prove nothing. */
describe('fake-kube with real kubectl', () => {
  let fake: FakeKube;
  let kubeconfig: string;

  before(async () => {
    fake = await startFakeKube();
    fake.addPod('ns1', 'web-1');
    fake.addPod('ns1', 'web-2', { containers: ['app', 'sidecar'] });
    fake.addPod('ns2', 'other');
    fake.grant({ user: 'alice' }, [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'pods/log'] }], 'ns1');
    kubeconfig = fake.writeKubeconfig();
  });
  after(() => fake.stop());

  it('kubectl get pods lists the seeded pods of the namespace only', async () => {
    const r = await kubectl(['get', 'pods', '-n', 'ns1'], { kubeconfig });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s/m);
    assert.match(r.stdout, /^web-1\s/m);
    assert.match(r.stdout, /^web-2\s/m);
    assert.doesNotMatch(r.stdout, /other/);
    // kubectl asked for a Table and for aggregated discovery, and coped with plain JSON.
    assert.ok(fake.requests.some((q) => q.header('accept').some((a) => a.includes('as=Table'))));
    assert.ok(fake.requests.some((q) => q.header('accept').some((a) => a.includes('APIGroupDiscoveryList'))));
  });

  it('kubectl get pods -w shows a pod created after the watch started', async () => {
    const w = spawnKubectl(['get', 'pods', '-n', 'ns1', '-w'], { kubeconfig });
    try {
      await w.waitFor(/^web-1\s/m);
      await fake.waitFor(() => fake.streams.watch === 1, 5000, 'the watch to open');
      fake.addPod('ns1', 'late-pod');
      await w.waitFor(/^late-pod\s/m);
    } finally {
      await w.stop();
    }
    await fake.waitFor(() => fake.streams.watch === 0, 3000, 'the watch to close after kubectl exited');
  });

  it('kubectl logs prints the log and -f streams lines as they are written', async () => {
    fake.appendLog('ns1', 'web-1', 'first line');
    const plain = await kubectl(['logs', '-n', 'ns1', 'web-1'], { kubeconfig });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, 'first line\n');

    const f = spawnKubectl(['logs', '-f', '-n', 'ns1', 'web-1'], { kubeconfig });
    try {
      await f.waitFor(/first line/);
      await fake.waitFor(() => fake.streams.log === 1, 5000, 'the log stream to open');
      fake.appendLog('ns1', 'web-1', 'second line');
      await f.waitFor(/second line/);
      fake.appendLog('ns1', 'web-1', 'third line');
      await f.waitFor(/third line/);
      fake.endLogs('ns1', 'web-1');
      await f.stop();
      assert.equal(f.stdout, 'first line\nsecond line\nthird line\n');
    } finally {
      await f.stop();
    }
    await fake.waitFor(() => fake.streams.log === 0, 3000, 'the log stream to close');
  });

  it('kubectl exec runs echo over WebSocket v5 and reports exit codes', async () => {
    fake.clearRequests();
    const r = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'ok'], { kubeconfig });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok\n');
    const exec = fake.requestsTo(/\/pods\/web-1\/exec\?/);
    assert.equal(exec.length, 1);
    assert.equal(exec[0].upgrade, 'websocket');
    assert.match(exec[0].header('sec-websocket-protocol').join(','), /v5\.channel\.k8s\.io/);

    const failed = await kubectl(['exec', '-n', 'ns1', 'web-2', '-c', 'sidecar', '--', 'exit', '3'], { kubeconfig });
    assert.equal(failed.code, 3, failed.stderr);
    assert.match(failed.stderr, /command terminated with exit code 3/);

    const cat = await kubectl(['exec', '-i', '-n', 'ns1', 'web-1', '--', 'cat'], { kubeconfig, stdin: 'from stdin\n' });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'from stdin\n');
  });

  it('kubectl exec works over SPDY/3.1, forced or as the fallback after a refused WebSocket', async () => {
    const spdy = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' };
    fake.clearRequests();
    const r = await kubectl(['exec', '-i', '-n', 'ns1', 'web-1', '--', 'cat'], { kubeconfig, env: spdy, stdin: 'over spdy\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'over spdy\n');
    const exec = fake.requestsTo(/\/exec\?/);
    assert.deepEqual(exec.map((q) => [q.method, q.upgrade]), [['POST', 'spdy']]);

    const failed = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'false'], { kubeconfig, env: spdy });
    assert.equal(failed.code, 1, failed.stderr);

    // A "1.29" apiserver refusing the WebSocket upgrade: kubectl must retry with SPDY and succeed.
    fake.clearRequests();
    const undo = fake.refuseUpgrades({ kind: 'websocket' });
    try {
      const fb = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'fell back'], { kubeconfig });
      assert.equal(fb.code, 0, fb.stderr);
      assert.equal(fb.stdout, 'fell back\n');
    } finally {
      undo();
    }
    assert.deepEqual(fake.requestsTo(/\/exec\?/).map((q) => q.upgrade), ['websocket', 'spdy']);
  });

  for (const form of ['websocket', 'spdy'] as const) {
    it(`kubectl port-forward reaches the echo port over ${form === 'websocket' ? 'SPDY tunnelled over WebSocket (the default)' : 'a SPDY upgrade'}`, async () => {
      fake.portForwardMode = 'spdy';
      const before = { ...fake.portForwards };
      const pf = await startPortForward('ns1', 'web-1', 80, form, { kubeconfig });
      try {
        const data = crypto.randomBytes(1024 * 1024);
        assert.ok((await echoThrough(pf.port, data)).equals(data));
        assert.deepEqual(fake.portForwards, { ...before, [form]: before[form] + 1 });
      } finally {
        await pf.kubectl.stop();
        fake.portForwardMode = 'raw';
      }
    });
  }

  it('kubectl auth can-i --as alice answers from the seeded RBAC', async () => {
    const yes = await kubectl(['auth', 'can-i', 'list', 'pods', '-n', 'ns1', '--as', 'alice'], { kubeconfig });
    assert.equal(yes.stdout.trim(), 'yes', yes.stderr);
    assert.equal(yes.code, 0);
    const otherNs = await kubectl(['auth', 'can-i', 'list', 'pods', '-n', 'ns2', '--as', 'alice'], { kubeconfig });
    assert.equal(otherNs.stdout.trim(), 'no');
    assert.equal(otherNs.code, 1);
    const exec = await kubectl(['auth', 'can-i', 'create', 'pods/exec', '-n', 'ns1', '--as', 'alice'], { kubeconfig });
    assert.equal(exec.stdout.trim(), 'no');
    const review = fake.requestsTo('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews').at(-1);
    assert.equal(review?.user?.username, 'alice');
    assert.deepEqual(review?.header('impersonate-user'), ['alice']);
  });

  it('an exec RBAC does not allow fails with the apiserver Forbidden message', async () => {
    const asAlice = fake.writeKubeconfig({ as: 'alice' });
    const list = await kubectl(['get', 'pods', '-n', 'ns1', '-o', 'name'], { kubeconfig: asAlice });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /pod\/web-1/);
    const r = await kubectl(['exec', '-n', 'ns1', 'web-1', '--', 'echo', 'ok'], { kubeconfig: asAlice });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /Forbidden.*pods "web-1" is forbidden: User "alice" cannot create resource "pods\/exec" in API group "" in the namespace "ns1"/);
  });
});
