import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app';

describe('the separate metrics listener (metric_config.metric_port)', () => {
  let t: TestApp;
  let metricsUrl: string;
  before(async () => {
    t = await startTestApp('sqlite', { metrics: { listener: { address: '127.0.0.1', port: 0 }, onMainListener: false } });
    metricsUrl = t.app.metricsListener!.url;
  });
  after(() => t.stop());

  it('serves GET and HEAD /metrics only', async () => {
    const res = await fetch(metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await res.text(), /^# TYPE bcs_api_request_count_total counter$/m);
    const head = await fetch(metricsUrl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(metricsUrl, { method: 'DELETE' })).status, 405);
    assert.equal((await fetch(metricsUrl.replace(/\/metrics$/, '/livez'))).status, 404);
    assert.equal((await fetch(`${metricsUrl}/x`)).status, 404);
  });

  it('leaves /metrics off the main listener with metrics.on_main_listener: false', async () => {
    assert.equal((await fetch(`${t.url}/metrics`)).status, 404);
    assert.equal((await fetch(`${t.url}/livez`)).status, 200);
  });

  it('is closed when the gateway stops', async () => {
    await t.app.stop();
    await assert.rejects(fetch(metricsUrl));
    // Stopped here already: after() drops the database without stopping it twice.
    t.app.stop = async () => undefined;
  });
});
