import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { ProxyMetrics } from '../../proxy/shared/metrics';

/** The value of one exposition line, by metric name and exact label text. */
function line(text: string, name: string, labels: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return found === undefined ? undefined : Number(found.slice(found.lastIndexOf(' ') + 1));
}

describe('proxy metrics', () => {
  it('counts requests and errors by type and method, and the counts only grow across reads', async () => {
    const registry = new Registry();
    const m = new ProxyMetrics(registry);
    m.observe('k8s_native', 'GET', 200, 0.01, false);
    m.observe('k8s_native', 'GET', 503, 0.01, false);
    m.observe('k8s_native', 'POST', 201, 0.01, false);
    let text = await registry.metrics();
    assert.equal(line(text, 'bcs_api_request_count_total', 'type="k8s_native",method="GET"'), 2);
    assert.equal(line(text, 'bcs_api_request_count_total', 'type="k8s_native",method="POST"'), 1);
    assert.equal(line(text, 'bcs_api_request_err_count_total', 'type="k8s_native",method="GET"'), 1);
    text = await registry.metrics();
    assert.equal(line(text, 'bcs_api_request_count_total', 'type="k8s_native",method="GET"'), 2, 'a second read counts nothing twice');
    m.observe('k8s_native', 'GET', 200, 0.01, false);
    text = await registry.metrics();
    assert.equal(line(text, 'bcs_api_request_count_total', 'type="k8s_native",method="GET"'), 3);
  });

  it('renders latency as a cumulative histogram: bounds inclusive, +Inf, sum and count; long-running requests left out', async () => {
    const registry = new Registry();
    const m = new ProxyMetrics(registry);
    m.observe('k8s_native', 'GET', 200, 0.0005, false);
    m.observe('k8s_native', 'GET', 200, 0.003, false);
    m.observe('k8s_native', 'GET', 200, 100, false);
    m.observe('k8s_native', 'GET', 200, 30, true);
    const text = await registry.metrics();
    const bucket = (le: string): number | undefined => line(text, 'bcs_api_request_latency_seconds_bucket', `le="${le}",type="k8s_native",method="GET"`);
    assert.equal(bucket('0.00025'), 0);
    assert.equal(bucket('0.0005'), 1, 'a value on a bound counts in that bucket');
    assert.equal(bucket('0.002'), 1);
    assert.equal(bucket('0.004'), 2);
    assert.equal(bucket('8.192'), 2);
    assert.equal(bucket('+Inf'), 3);
    assert.equal(line(text, 'bcs_api_request_latency_seconds_count', 'type="k8s_native",method="GET"'), 3);
    assert.equal(line(text, 'bcs_api_request_latency_seconds_sum', 'type="k8s_native",method="GET"'), 100.0035);
    assert.match(text, /# TYPE bcs_api_request_latency_seconds histogram/);
  });

  it('reports failed requests in the error latency histogram, and requests in flight by kind', async () => {
    const registry = new Registry();
    const m = new ProxyMetrics(registry);
    m.observe('k8s_native', 'GET', 504, 60, false);
    m.enter('watch');
    m.enter('watch');
    m.enter('normal');
    m.leave('watch');
    const text = await registry.metrics();
    assert.equal(line(text, 'bcs_api_request_error_latency_seconds_count', 'type="k8s_native",method="GET"'), 1);
    assert.equal(line(text, 'bcs_api_request_latency_seconds_count', 'type="k8s_native",method="GET"'), 0);
    assert.equal(line(text, 'bcs_api_proxy_inflight_requests', 'kind="watch"'), 1);
    assert.equal(line(text, 'bcs_api_proxy_inflight_requests', 'kind="normal"'), 1);
  });
});
