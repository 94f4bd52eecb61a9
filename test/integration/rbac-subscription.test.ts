import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { RbacSubscription, subscriptionUrl, type AuthRbacData, type RbacSubscriptionOptions } from '../../src/rbac/subscription';
import { generateCerts } from '../helpers/fake-kube/certs';
import { captureLogger, FakeSubscriptionServer, waitFor } from '../helpers/fake-subscription';

const APP = 'bcs-app';
const SECRET = 's3cr3t-Value-42';
const BASIC = `Basic ${Buffer.from(`${APP}:${SECRET}`).toString('base64')}`;
const WARN = 40;

const grant = (over: Partial<AuthRbacData> = {}): AuthRbacData => ({
  operation: 'add',
  principal: { principal_type: 'user', principal_id: 'alice' },
  scope_type: 'project',
  scope_instance: 'p1',
  service: 'bcs',
  action: 'workloads-view',
  resource_type: 'namespace',
  resource_instance: { cluster: 'BCS-K8S-00001', namespace: 'ns1' },
  policy_from: 'common',
  ...over,
});

interface Applied {
  event: AuthRbacData;
  meta: { dataId: string; workerId: string };
}

/** A subscription wired to a recording apply; `fail` makes apply throw for the given data ids. */
function harness(fake: FakeSubscriptionServer, over: Partial<RbacSubscriptionOptions> = {}) {
  const logs = captureLogger();
  const applied: Applied[] = [];
  const fail = new Set<string>();
  const sub = new RbacSubscription({
    url: fake.url,
    appCode: APP,
    appSecret: SECRET,
    ca: fake.caPem,
    logger: logs.logger,
    backoff: { initialMs: 20, maxMs: 200 },
    handshakeTimeoutMs: 2000,
    apply: async (event, meta) => {
      if (fail.has(meta.dataId)) throw new Error(`cluster for ${meta.dataId} unreachable`);
      applied.push({ event, meta });
    },
    ...over,
  });
  return { sub, logs, applied, fail };
}

const warnings = (logs: ReturnType<typeof captureLogger>) => logs.lines.filter((l) => (l.level as number) >= WARN);
/** The secret and the Authorization value never reach the log. */
function assertNoSecretsLogged(logs: ReturnType<typeof captureLogger>): void {
  const text = logs.text();
  assert.ok(!text.includes(SECRET), 'the app secret was logged');
  assert.ok(!text.includes(BASIC.slice(6)), 'the Authorization value was logged');
}

describe('subscriptionUrl', () => {
  it('turns a bare host[:port] into wss:// on the original path', () => {
    assert.deepEqual(subscriptionUrl('iam.example.com:8080'), { url: 'wss://iam.example.com:8080/subscribers/bcs-api/sub', insecure: false });
    assert.deepEqual(subscriptionUrl('iam.example.com'), { url: 'wss://iam.example.com/subscribers/bcs-api/sub', insecure: false });
    assert.deepEqual(subscriptionUrl('10.0.0.7:9000'), { url: 'wss://10.0.0.7:9000/subscribers/bcs-api/sub', insecure: false });
    assert.deepEqual(subscriptionUrl('[::1]:9000'), { url: 'wss://[::1]:9000/subscribers/bcs-api/sub', insecure: false });
  });

  it('keeps a full ws:// or wss:// URL, appending the path only when none is given', () => {
    assert.deepEqual(subscriptionUrl('ws://iam:80'), { url: 'ws://iam/subscribers/bcs-api/sub', insecure: true });
    assert.deepEqual(subscriptionUrl('ws://iam:8080/'), { url: 'ws://iam:8080/subscribers/bcs-api/sub', insecure: true });
    assert.deepEqual(subscriptionUrl('wss://iam:8443'), { url: 'wss://iam:8443/subscribers/bcs-api/sub', insecure: false });
    assert.deepEqual(subscriptionUrl('wss://iam/custom/sub?x=1'), { url: 'wss://iam/custom/sub?x=1', insecure: false });
    assert.deepEqual(subscriptionUrl('WSS://IAM.example.com/sub'), { url: 'wss://iam.example.com/sub', insecure: false });
  });

  it('rejects anything else, naming the value', () => {
    for (const bad of ['', '   ', ' iam:80', 'iam :80', 'http://iam:80', 'https://iam', 'ftp://iam', 'iam:99999', 'iam:0', 'iam/path', 'ws://', 'wss://iam:70000', 'wss://iam/#frag', 'a_b:80']) {
      assert.throws(
        () => subscriptionUrl(bad),
        (err: Error) => err.message.includes(JSON.stringify(bad)) || (bad === 'ws://' && err.message.includes('ws://')),
        `expected ${JSON.stringify(bad)} to be rejected`,
      );
    }
  });

  it('rejects credentials in the URL without echoing the password', () => {
    assert.throws(
      () => subscriptionUrl('wss://app:hunter2@iam/sub'),
      (err: Error) => /credentials/.test(err.message) && !err.message.includes('hunter2') && err.message.includes('wss://iam/sub'),
    );
  });

  it('the subscription refuses a non-websocket URL', () => {
    const logs = captureLogger();
    const opts = { appCode: APP, appSecret: SECRET, logger: logs.logger, apply: async () => undefined };
    assert.throws(() => new RbacSubscription({ ...opts, url: 'http://iam/sub' }), /ws:\/\/ or wss:\/\//);
    assert.throws(() => new RbacSubscription({ ...opts, url: 'iam:80' }), /ws:\/\/ or wss:\/\/|not a valid URL/);
  });
});

describe('RBAC subscription over ws://', () => {
  let fake: FakeSubscriptionServer;
  let h: ReturnType<typeof harness> | undefined;
  before(async () => {
    fake = await FakeSubscriptionServer.start();
  });
  afterEach(async () => {
    if (h) {
      await h.sub.stop();
      assertNoSecretsLogged(h.logs);
    }
    h = undefined;
    fake.refuseWith = undefined;
    fake.expectAuthorization = undefined;
    await waitFor('the fake to see every client go', () => fake.openConnections.length === 0);
  });
  after(async () => fake?.close());

  /** Starts a harness and waits for its connection; returns the server side of it. */
  async function connect(over: Partial<RbacSubscriptionOptions> = {}) {
    h = harness(fake, over);
    const before = fake.connections.length;
    h.sub.start();
    await waitFor('connected', () => h!.sub.status().state === 'connected' && fake.connections.length > before);
    return fake.connections[fake.connections.length - 1]!;
  }

  it('sends Basic credentials and reports its status without them', async () => {
    const st0 = harness(fake).sub.status();
    assert.equal(st0.state, 'stopped');
    const conn = await connect();
    assert.equal(conn.authorization, BASIC);
    const st = h!.sub.status();
    assert.equal(st.url, fake.url);
    assert.ok(st.connectedSince instanceof Date);
    assert.deepEqual({ acked: st.acked, failed: st.failed, reconnects: st.reconnects }, { acked: 0, failed: 0, reconnects: 0 });
    assert.ok(!JSON.stringify(st).includes(SECRET));
  });

  it("uses the data frame's own worker_id when no hi came first", async () => {
    const conn = await connect();
    fake.sendData(APP, 'early-1', grant(), { conn, workerId: 'frame-worker' });
    await waitFor('ack', () => conn.received.length === 1);
    assert.deepEqual(conn.received[0], { app_code: APP, type: 'ack', worker_id: 'frame-worker', data_id: 'early-1' });
    assert.deepEqual(h!.applied[0]!.meta, { dataId: 'early-1', workerId: 'frame-worker' });
  });

  it('applies add then delete in arrival order, one at a time, acking each with the hi worker_id', async () => {
    let running = 0;
    let maxRunning = 0;
    const order: string[] = [];
    const conn = await connect({
      apply: async (event, meta) => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        // The add is slow: the delete arrives while it runs and must wait for it.
        await new Promise((r) => setTimeout(r, event.operation === 'add' ? 80 : 1));
        order.push(`${event.operation}:${meta.dataId}:${meta.workerId}`);
        running -= 1;
      },
    });
    fake.sendHi(APP, 'worker-7', conn);
    fake.sendPingFrame(APP, conn);
    fake.sendData(APP, 'd-1', grant(), { conn });
    fake.sendData(APP, 'd-2', grant({ operation: 'delete' }), { conn });
    await waitFor('two acks', () => conn.received.length >= 2);
    assert.deepEqual(order, ['add:d-1:worker-7', 'delete:d-2:worker-7']);
    assert.equal(maxRunning, 1);
    assert.deepEqual(conn.received, [
      { app_code: APP, type: 'ack', worker_id: 'worker-7', data_id: 'd-1' },
      { app_code: APP, type: 'ack', worker_id: 'worker-7', data_id: 'd-2' },
    ]);
    const st = h!.sub.status();
    assert.equal(st.acked, 2);
    assert.ok(st.lastAckAt instanceof Date);
  });

  it('passes the decoded event to apply', async () => {
    const conn = await connect();
    fake.sendHi(APP, 'w1', conn);
    // Unknown fields are dropped; the cluster-level form needs no namespace.
    fake.sendData(APP, 'd-9', { ...grant({ resource_type: 'cluster', resource_instance: { cluster: '*' }, policy_from: 'pattern_policy' }), extra: 1 }, { conn });
    await waitFor('ack', () => conn.received.length === 1);
    assert.deepEqual(h!.applied, [
      {
        event: {
          operation: 'add',
          principal: { principal_type: 'user', principal_id: 'alice' },
          scope_type: 'project',
          scope_instance: 'p1',
          service: 'bcs',
          action: 'workloads-view',
          resource_type: 'cluster',
          resource_instance: { cluster: '*' },
          policy_from: 'pattern_policy',
        },
        meta: { dataId: 'd-9', workerId: 'w1' },
      },
    ]);
  });

  it('does not ack a frame whose apply throws, and still acks a later good one', async () => {
    const conn = await connect();
    h!.fail.add('bad-1');
    fake.sendHi(APP, 'w', conn);
    fake.sendData(APP, 'bad-1', grant(), { conn });
    fake.sendData(APP, 'good-2', grant({ action: 'services-view' }), { conn });
    await waitFor('the good ack', () => conn.received.some((f) => f.data_id === 'good-2'));
    assert.deepEqual(
      conn.received.map((f) => f.data_id),
      ['good-2'],
    );
    assert.deepEqual(
      h!.applied.map((a) => a.meta.dataId),
      ['good-2'],
    );
    const st = h!.sub.status();
    assert.equal(st.acked, 1);
    assert.equal(st.failed, 1);
    assert.ok(warnings(h!.logs).some((l) => l.dataId === 'bad-1' && String(l.err).includes('cluster for bad-1 unreachable')));
  });

  it("ignores frames for another app_code, malformed frames and unknown types, and keeps working", async () => {
    const conn = await connect();
    fake.sendHi(APP, 'w', conn);
    fake.sendData('someone-else', 'x-1', grant(), { conn });
    fake.sendHi('someone-else', 'their-worker', conn);
    fake.send('{not json', conn);
    fake.send('[1,2]', conn);
    fake.send({ app_code: APP, type: 'surprise' }, conn);
    fake.send({ app_code: APP, type: 'data', data: JSON.stringify(grant()) }, conn); // no data_id: cannot be acked
    fake.sendData(APP, 'mine-1', grant(), { conn });
    await waitFor('the ack of mine-1', () => conn.received.length >= 1);
    assert.deepEqual(conn.received, [{ app_code: APP, type: 'ack', worker_id: 'w', data_id: 'mine-1' }]);
    assert.deepEqual(
      h!.applied.map((a) => a.meta),
      [{ dataId: 'mine-1', workerId: 'w' }],
    );
    assert.ok(h!.logs.lines.some((l) => l.appCode === 'someone-else' && /another app_code/.test(String(l.msg))));
    assert.ok(warnings(h!.logs).some((l) => /malformed/.test(String(l.msg)) && /not JSON/.test(String(l.err))));
    assert.ok(warnings(h!.logs).some((l) => /malformed/.test(String(l.msg)) && /data_id/.test(String(l.err))));
    assert.equal(h!.sub.status().state, 'connected');
  });

  it('does not apply or ack invalid data, and says what is wrong', async () => {
    const conn = await connect();
    fake.sendHi(APP, 'w', conn);
    const cases: [string, unknown, RegExp][] = [
      ['bad-json', '{"operation":"add",', /not valid JSON/],
      ['no-cluster', grant({ resource_instance: { cluster: '', namespace: 'ns1' } }), /resource_instance\.cluster/],
      ['no-namespace', grant({ resource_instance: { cluster: 'BCS-K8S-00001' } }), /resource_instance\.namespace/],
      ['bad-op', { ...grant(), operation: 'upsert' }, /operation/],
      ['bad-type', { ...grant(), resource_type: 'project' }, /resource_type/],
      ['no-principal', { ...grant(), principal: { principal_type: 'user', principal_id: '' } }, /principal\.principal_id/],
      ['no-action', { ...grant(), action: '' }, /action/],
    ];
    for (const [id, data] of cases) fake.sendData(APP, id, data, { conn });
    // data must be a JSON *string*: an object is invalid.
    fake.sendData(APP, 'object-data', grant(), { conn, raw: true });
    fake.sendData(APP, 'ok', grant(), { conn });
    await waitFor('the ack of ok', () => conn.received.length >= 1);
    assert.deepEqual(
      conn.received.map((f) => f.data_id),
      ['ok'],
    );
    assert.deepEqual(
      h!.applied.map((a) => a.meta.dataId),
      ['ok'],
    );
    assert.equal(h!.sub.status().failed, cases.length + 1);
    for (const [id, , why] of cases) {
      assert.ok(
        warnings(h!.logs).some((l) => l.dataId === id && why.test(String(l.err))),
        `a warning naming ${why} for ${id}`,
      );
    }
    assert.ok(warnings(h!.logs).some((l) => l.dataId === 'object-data' && /expected a JSON string/.test(String(l.err))));
  });

  it('reconnects after the server drops the connection and keeps working', async () => {
    const first = await connect();
    fake.sendHi(APP, 'w-old', first);
    fake.sendData(APP, 'a-1', grant(), { conn: first });
    await waitFor('first ack', () => first.received.length === 1);
    fake.dropAll();
    const second = await waitFor('a new connection', () => (fake.current !== first ? fake.current : undefined));
    assert.equal(second.authorization, BASIC);
    await waitFor('connected again', () => h!.sub.status().state === 'connected');
    assert.ok(h!.sub.status().reconnects >= 1);
    assert.match(h!.sub.status().lastError ?? '', /connection closed/);
    fake.sendHi(APP, 'w-new', second);
    fake.sendData(APP, 'a-2', grant({ operation: 'delete' }), { conn: second });
    await waitFor('ack on the new connection', () => second.received.length === 1);
    assert.deepEqual(second.received[0], { app_code: APP, type: 'ack', worker_id: 'w-new', data_id: 'a-2' });
    assert.equal(h!.sub.status().acked, 2);
  });

  it('backs off on a 401 refusal, retrying with growing delays, then connects once accepted', async () => {
    fake.refuseWith = 401;
    const start = fake.attempts.length;
    h = harness(fake, { backoff: { initialMs: 20, maxMs: 160 } });
    h.sub.start();
    await waitFor('five refused attempts', () => fake.attempts.length - start >= 5, 10_000);
    const tried = fake.attempts.slice(start);
    assert.ok(tried.every((a) => a.status === 401 && a.authorization === BASIC));
    assert.equal(fake.connections.filter((c) => !c.closed).length, 0);
    const st = h.sub.status();
    assert.ok(st.state === 'backoff' || st.state === 'connecting', st.state);
    assert.match(st.lastError ?? '', /401/);
    assert.ok(st.reconnects >= 4);
    // Delay n is drawn from [d/2, d] with d = 20·2^n capped at 160: never shorter than d/2.
    for (let n = 0; n < 4; n++) {
      const gap = tried[n + 1]!.at - tried[n]!.at;
      const floor = Math.min(160, 20 * 2 ** n) / 2;
      assert.ok(gap >= floor - 2, `gap ${n} was ${gap} ms, expected at least ${floor} ms`);
    }
    fake.refuseWith = undefined;
    await waitFor('accepted at last', () => h!.sub.status().state === 'connected', 5000);
    assert.equal(h.applied.length, 0);
  });

  it('treats a wrong secret like any refusal (401) and keeps retrying', async () => {
    fake.expectAuthorization = BASIC;
    const start = fake.attempts.length;
    h = harness(fake, { appSecret: 'wrong-secret' });
    h.sub.start();
    await waitFor('three refused attempts', () => fake.attempts.length - start >= 3);
    assert.ok(fake.attempts.slice(start).every((a) => a.status === 401));
    assert.match(h.sub.status().lastError ?? '', /401/);
    assert.ok(!h.logs.text().includes('wrong-secret'));
  });

  it('stop() waits for the apply in progress, acks it, closes cleanly and leaves no timers', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const conn = await connect({
      apply: async () => {
        calls += 1;
        await gate;
      },
    });
    fake.sendHi(APP, 'w', conn);
    fake.sendData(APP, 'slow-1', grant(), { conn });
    fake.sendData(APP, 'queued-2', grant({ operation: 'delete' }), { conn });
    await waitFor('apply running', () => calls === 1);
    let stopped = false;
    const stopping = h!.sub.stop().then(() => (stopped = true));
    await waitFor('stopped state', () => h!.sub.status().state === 'stopped');
    assert.equal(stopped, false);
    release();
    await stopping;
    assert.equal(calls, 1, 'the queued event is dropped, not applied after stop');
    assert.deepEqual(
      conn.received.map((f) => f.data_id),
      ['slow-1'],
    );
    await waitFor('server saw the close', () => conn.closed);
    assert.equal(conn.closeCode, 1000);
    assert.equal(h!.sub.status().state, 'stopped');
    assert.ok(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length <= timersBefore, 'a timer was left running');
    assert.throws(() => h!.sub.start(), /stopped/);
  });

  it('stop() during backoff cancels the pending reconnect', async () => {
    fake.refuseWith = 401;
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const start = fake.attempts.length;
    h = harness(fake, { backoff: { initialMs: 300, maxMs: 300 } });
    h.sub.start();
    await waitFor('refused once', () => fake.attempts.length - start === 1 && h!.sub.status().state === 'backoff');
    await h.sub.stop();
    assert.equal(h.sub.status().state, 'stopped');
    assert.ok(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length <= timersBefore, 'the reconnect timer was left running');
    assert.equal(fake.attempts.length - start, 1);
  });
});

describe('RBAC subscription liveness', () => {
  it('pings a silent server and reconnects when no pong comes back', async () => {
    const fake = await FakeSubscriptionServer.start({ autoPong: false });
    const h = harness(fake, { idleTimeoutMs: 100, pongTimeoutMs: 100 });
    try {
      h.sub.start();
      const first = await waitFor('connected', () => fake.current);
      await waitFor('pinged', () => first.pings >= 1);
      await waitFor('dropped for lack of a pong', () => first.closed, 3000);
      await waitFor('a new connection', () => (fake.connections.length >= 2 ? fake.current : undefined));
      assert.match(h.sub.status().lastError ?? '', /no pong within 100 ms/);
      assert.ok(warnings(h.logs).some((l) => /unresponsive/.test(String(l.msg))));
    } finally {
      await h.sub.stop();
      await fake.close();
    }
  });

  it('stays on the same connection while pongs come back', async () => {
    const fake = await FakeSubscriptionServer.start();
    const h = harness(fake, { idleTimeoutMs: 50, pongTimeoutMs: 200 });
    try {
      h.sub.start();
      const conn = await waitFor('connected', () => fake.current);
      await waitFor('three pings answered', () => conn.pings >= 3, 3000);
      assert.equal(fake.connections.length, 1);
      assert.equal(conn.closed, false);
      assert.equal(h.sub.status().reconnects, 0);
      // Frames keep it alive too, and still work.
      fake.sendHi(APP, 'w', conn);
      fake.sendData(APP, 'live-1', grant(), { conn });
      await waitFor('ack', () => conn.received.length === 1);
    } finally {
      await h.sub.stop();
      await fake.close();
    }
  });
});

describe('RBAC subscription over wss://', () => {
  let fake: FakeSubscriptionServer;
  before(async () => {
    fake = await FakeSubscriptionServer.start({ tls: true });
  });
  after(async () => fake?.close());

  it('works with the server CA', async () => {
    const h = harness(fake);
    try {
      assert.match(fake.url, /^wss:/);
      h.sub.start();
      const conn = await waitFor('connected', () => fake.current);
      assert.equal(conn.authorization, BASIC);
      fake.sendHi(APP, 'tls-worker', conn);
      fake.sendData(APP, 't-1', grant(), { conn });
      await waitFor('ack', () => conn.received.length === 1);
      assert.deepEqual(conn.received[0], { app_code: APP, type: 'ack', worker_id: 'tls-worker', data_id: 't-1' });
      // subscriptionUrl of the bare host:port dials this very endpoint.
      assert.equal(subscriptionUrl(fake.hostPort).url, fake.url);
    } finally {
      await h.sub.stop();
    }
    assertNoSecretsLogged(h.logs);
  });

  it('fails with a wrong CA, or with only the system roots, and never falls back to insecure', async () => {
    const other = generateCerts();
    for (const ca of [other.caPem, undefined]) {
      const failuresBefore = fake.tlsFailures;
      const attemptsBefore = fake.attempts.length;
      const connectionsBefore = fake.connections.length;
      const h = harness(fake, { ca });
      try {
        h.sub.start();
        await waitFor('three failed TLS handshakes', () => fake.tlsFailures - failuresBefore >= 3 && h.sub.status().reconnects >= 2, 10_000);
        const st = h.sub.status();
        assert.notEqual(st.state, 'connected');
        assert.match(st.lastError ?? '', /certificate|self[- ]signed|issuer/i);
        // The upgrade (with the credentials) never reached the server.
        assert.equal(fake.attempts.length, attemptsBefore);
        assert.equal(fake.connections.length, connectionsBefore);
        assert.equal(h.applied.length, 0);
      } finally {
        await h.sub.stop();
      }
    }
  });
});
