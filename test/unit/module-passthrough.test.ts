import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../proxy/services/headers';
import { clusterOf } from '../../proxy/services/module-access';
import { accessNeeded } from '../../proxy/shared/bcsapi-rules';
import { isWatch } from '../../proxy/services/routes';

const req = (headers: Record<string, string> = {}): IncomingMessage => ({ headers }) as unknown as IncomingMessage;

describe('module passthrough rules', () => {
  it("recognises storage's watches (a watch segment, or watch=true) and nothing else", () => {
    assert.equal(isWatch('dynamic/watch/BCS-K8S-1/Pod'), true);
    assert.equal(isWatch('dynamic/watch/containers/BCS-K8S-1'), true);
    assert.equal(isWatch('query/k8s/dynamic/clusters/X/pod?watch=true'), true);
    assert.equal(isWatch('query/k8s/dynamic/clusters/X/pod?watch=false'), false);
    assert.equal(isWatch('query/k8s/dynamic/clusters/X/watchers'), false);
    assert.equal(isWatch('events?q=watch'), false);
  });

  it('takes the cluster from BCS-ClusterID first, then clusters/{id}, then a storage watch path', () => {
    assert.equal(clusterOf(req({ 'bcs-clusterid': 'H' }), 'query/k8s/dynamic/clusters/P/pod'), 'H');
    assert.equal(clusterOf(req(), 'query/k8s/dynamic/clusters/P/pod'), 'P');
    assert.equal(clusterOf(req(), 'dynamic/watch/W/Pod'), 'W');
    assert.equal(clusterOf(req(), 'dynamic/watch/containers/C'), 'C');
    assert.equal(clusterOf(req(), 'events'), undefined);
    assert.equal(clusterOf(req({ 'bcs-clusterid': '  ' }), 'clusters'), undefined);
  });

  it('counts GET, HEAD and the POSTs of storage queries and watches as reads, with the cluster a watch names', () => {
    const need = (method: string, uri: string) => {
      const n = accessNeeded({ module: 'storage', method, uri });
      assert.ok(n.ok);
      return { access: n.access, clusters: n.clusters };
    };
    assert.deepEqual(need('GET', 'x'), { access: 'read', clusters: [] });
    assert.deepEqual(need('HEAD', 'x'), { access: 'read', clusters: [] });
    assert.deepEqual(need('POST', 'query/k8s/dynamic/clusters/A/pod'), { access: 'read', clusters: ['A'] });
    assert.deepEqual(need('POST', 'dynamic/watch/A/Pod'), { access: 'read', clusters: ['A'] });
    assert.deepEqual(need('POST', 'dynamic/watch/containers/C'), { access: 'read', clusters: ['C'] });
    assert.deepEqual(need('POST', 'dynamic/clusters/A/pod'), { access: 'manage', clusters: ['A'] });
    assert.deepEqual(need('DELETE', 'query/x'), { access: 'manage', clusters: [] });
  });

  it('strips credentials, Impersonate-*, hop-by-hop and Connection-named headers; keeps the rest', () => {
    const out = upstreamRequestHeaders(
      {
        authorization: 'Bearer t',
        'x-bcs-user-token': 'u',
        'x-bkapi-jwt': 'j',
        impersonate_user: 'admin',
        'impersonate-extra-scopes': 's',
        cookie: 'c',
        host: 'gw',
        connection: 'close, X-Secret',
        'x-secret': 's',
        te: 'trailers',
        'transfer-encoding': 'chunked',
        expect: '100-continue',
        'bcs-clusterid': 'A',
        'content-type': 'application/json',
        'x-forwarded-for': '10.0.0.1',
      },
      '127.0.0.1',
    );
    assert.deepEqual(out, { 'bcs-clusterid': 'A', 'content-type': 'application/json', 'x-forwarded-for': '10.0.0.1, 127.0.0.1' });
  });

  it("drops the upstream's hop-by-hop response headers and those it names in Connection", () => {
    assert.deepEqual(clientResponseHeaders({ connection: 'x-internal', 'x-internal': '1', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] }), {
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    });
  });
});
