import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app';

/** Event-loop delay and GC pauses on /metrics: what the tunnel proxy's latency tail is read from. */
describe('runtime figures on /metrics', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => t?.stop());

  it('exposes the event-loop delay and GC pauses in millisecond buckets, without a worker label when alone', async () => {
    // Garbage enough for a few scavenges, so the GC histogram has observations.
    let keep = 0;
    for (let i = 0; i < 200_000; i += 1) keep += [i, { i }].length;
    assert.ok(keep > 0);
    await new Promise((r) => setTimeout(r, 50));
    const text = await (await fetch(`${t.url}/metrics`)).text();
    for (const name of ['p50', 'p90', 'p99', 'max']) assert.match(text, new RegExp(`^nodejs_eventloop_lag_${name}_seconds \\d`, 'm'));
    assert.match(text, /^nodejs_gc_duration_seconds_bucket\{le="0\.002",kind="minor"\} \d+$/m);
    assert.doesNotMatch(text, /worker="/);
  });
});
