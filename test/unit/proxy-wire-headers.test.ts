import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { h1RawResponseHeaders, h1RequestHeaders, h1ResponseHeaders, h2RequestHeaders } from '../../proxy/k8s/wire-headers';

describe('h2 header conversion', () => {
  it('builds the h2 request: pseudo-headers from the request, host as :authority, no connection-specific fields', () => {
    const out = h2RequestHeaders('GET', '/api/v1/pods?watch=1', '10.0.0.1:6443', {
      host: 'client.example',
      Connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'Proxy-Connection': 'keep-alive',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      'http2-settings': 'AAMAAABkAAQAAP__',
      te: 'gzip',
      ':path': '/smuggled',
      'impersonate-group': ['a', 'b'],
      authorization: 'Bearer t',
      'x-absent': undefined,
    });
    assert.deepEqual(out, {
      ':method': 'GET',
      ':path': '/api/v1/pods?watch=1',
      ':authority': '10.0.0.1:6443',
      ':scheme': 'https',
      'impersonate-group': ['a', 'b'],
      authorization: 'Bearer t',
    });
    assert.equal(h2RequestHeaders('GET', '/', 'a', { te: 'trailers' }).te, 'trailers');
  });

  it('turns an h2 response header block into HTTP/1.1 response headers', () => {
    const out = h1ResponseHeaders({ ':status': '200', 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], connection: 'close', 'transfer-encoding': 'chunked', 'audit-id': 'x' } as never);
    assert.deepEqual(out, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'audit-id': 'x' });
  });
});

describe('HTTP/1.1 header preparation (undici pool)', () => {
  it('sets Host to the address dialled and leaves out what the client or this hop already dealt with', () => {
    const out = h1RequestHeaders(
      {
        host: 'client.example',
        Connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        expect: '100-continue',
        te: 'trailers',
        ':authority': 'gateway',
        'Content-Length': 12,
        'impersonate-group': ['a', 'b'],
        authorization: 'Bearer t',
        'x-absent': undefined,
      },
      '10.0.0.1:6443',
    );
    assert.deepEqual(out, { host: '10.0.0.1:6443', 'content-length': '12', 'impersonate-group': ['a', 'b'], authorization: 'Bearer t' });
  });

  it('keeps response header names as sent and every duplicate, without hop-by-hop fields', () => {
    const raw = ['Content-Type', 'application/json', 'Connection', 'keep-alive', 'Warning', '299 - "a"', 'Keep-Alive', 'timeout=5', 'Warning', '299 - "b"', 'Transfer-Encoding', 'chunked'].map((v, i) => (i % 4 === 0 ? Buffer.from(v, 'latin1') : v));
    assert.deepEqual(h1RawResponseHeaders(raw), ['Content-Type', 'application/json', 'Warning', '299 - "a"', 'Warning', '299 - "b"']);
  });
});
