import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditVerb, isLongRunning } from '../../proxy/k8s/request-kind';

describe('isLongRunning: which requests get no response deadline', () => {
  it('watch and follow as query parameters, true or 1, wherever they stand in the query', () => {
    assert.equal(isLongRunning('GET', '/api/v1/pods?watch=true'), true);
    assert.equal(isLongRunning('GET', '/api/v1/namespaces/a/pods?resourceVersion=5&watch=1'), true);
    assert.equal(isLongRunning('GET', '/api/v1/namespaces/a/pods/p/log?container=c&follow=true'), true);
  });

  it('the legacy /watch/ paths and service or pod proxy paths', () => {
    assert.equal(isLongRunning('GET', '/api/v1/watch/namespaces/a/pods'), true);
    assert.equal(isLongRunning('GET', '/api/v1/namespaces/a/services/web/proxy'), true);
    assert.equal(isLongRunning('GET', '/api/v1/namespaces/a/services/web/proxy/metrics?x=1'), true);
  });

  it('plain reads, false values, look-alike names and other methods are short requests', () => {
    assert.equal(isLongRunning('GET', '/api/v1/namespaces/default/pods/bench-pod'), false);
    assert.equal(isLongRunning('GET', '/api/v1/pods?watch=false&follow=0'), false);
    assert.equal(isLongRunning('GET', '/api/v1/pods?watcher=true&labelSelector=watch%3Dtrue'), false);
    assert.equal(isLongRunning('GET', '/api/v1/namespaces/a/configmaps/proxyish'), false);
    assert.equal(isLongRunning('POST', '/api/v1/pods?watch=true'), false);
  });
});

describe('auditVerb', () => {
  it('names watches, upgrades and the write verbs', () => {
    assert.equal(auditVerb('GET', '/api/v1/pods?watch=1', undefined), 'watch');
    assert.equal(auditVerb('GET', '/api/v1/pods', undefined), 'get');
    assert.equal(auditVerb('POST', '/api/v1/namespaces/a/pods/p/exec', 'websocket'), 'connect');
    assert.equal(auditVerb('PATCH', '/api/v1/namespaces/a/pods/p', undefined), 'patch');
  });
});
