import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { dropHopByHop } from '../../proxy/k8s/passes/hop-by-hop';
import { EXTRA_TOKEN_ID, EXTRA_USER_ID, extraHeaderName, identityHeaders, kubernetesUserName, type ProxyPrincipal } from '../../proxy/k8s/passes/identity';
import { hasClientIdentityHeaders, scrubClientIdentity } from '../../proxy/k8s/passes/scrub';
import { parseTunnelTarget } from '../../proxy/k8s/route';

/** `req.headers` as Node builds it from raw lines: lower-case names, duplicates joined with ", " (first wins for a few). */
function parsedHeaders(raw: string[]): IncomingHttpHeaders {
  const firstWins = new Set(['authorization', 'content-length', 'content-type', 'host', 'user-agent']);
  const out: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (out[name] === undefined) out[name] = value;
    else if (!firstWins.has(name)) out[name] = `${out[name]}, ${value}`;
  }
  return out;
}

describe('pass: dropHopByHop', () => {
  it('removes the fixed hop-by-hop set and every header named in Connection, and returns Upgrade', () => {
    const headers: IncomingHttpHeaders = {
      connection: 'keep-alive, X-Custom-Hop,  Impersonate-User ,AUTHORIZATION',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      'proxy-connection': 'keep-alive',
      'proxy-authorization': 'Basic eDp5',
      'proxy-authenticate': 'Basic',
      'x-custom-hop': '1',
      'impersonate-user': 'system:admin',
      authorization: 'Bearer abc',
      accept: 'application/json',
      'x-stream-protocol-version': 'v4.channel.k8s.io',
    };
    assert.equal(dropHopByHop(headers), 'websocket');
    assert.deepEqual(headers, { accept: 'application/json', 'x-stream-protocol-version': 'v4.channel.k8s.io' });
  });

  it('leaves end-to-end headers alone when there is no Connection header', () => {
    const headers: IncomingHttpHeaders = { accept: '*/*', 'content-type': 'application/json' };
    assert.equal(dropHopByHop(headers), undefined);
    assert.deepEqual(headers, { accept: '*/*', 'content-type': 'application/json' });
  });
});

describe('pass: scrubClientIdentity', () => {
  const corpus = [
    'IMPERSONATE-USER', 'system:admin',
    'impersonate-group', 'a',
    'iMpErSoNaTe-gRoUp', 'b, c',
    'Impersonate_Group', 'system:masters',
    'Impersonate-Uid', '0',
    'Impersonate-Extra-Scopes', 'x',
    'impersonate-extra-scopes', 'y',
    'Impersonate-Extra-Reason', ' z ',
    'X-Remote-User', 'admin',
    'x-remote-group', 'system:masters',
    'X-Remote-Extra-Scopes', 'all',
    'X_Remote_User', 'admin2',
    'X-Forwarded-For', '6.6.6.6',
    'x-forwarded-for', '7.7.7.7',
    'X-Forwarded-Host', 'evil.example',
    'X-Forwarded-Proto', 'http',
    'Forwarded', 'for=6.6.6.6;proto=http',
    'X-Real-Ip', '6.6.6.6',
    'Authorization', 'Bearer stolen',
    'Cookie', 'session=1',
    'Audit-ID', 'attacker-chosen',
    'Proxy-Authorization', 'Basic eDp5',
    'Accept', 'application/json',
    'User-Agent', 'kubectl/v1.30',
    'X-Stream-Protocol-Version', 'v4.channel.k8s.io',
  ];

  it('removes every identity or source header in any case, spelling or multiplicity, and keeps the rest', () => {
    const headers = parsedHeaders(corpus);
    scrubClientIdentity(headers, corpus);
    assert.deepEqual(Object.keys(headers).sort(), ['accept', 'user-agent', 'x-stream-protocol-version']);
    assert.equal(hasClientIdentityHeaders(headers), false);
  });

  it('returns the requested impersonation read line by line from rawHeaders', () => {
    const requested = scrubClientIdentity(parsedHeaders(corpus), corpus);
    assert.deepEqual(requested, {
      user: 'system:admin',
      uid: '0',
      // one group per header line, as the apiserver reads them; the underscore spelling counts too
      groups: ['a', 'b, c', 'system:masters'],
      extra: { scopes: ['x', 'y'], reason: ['z'] },
    });
  });

  it('counts an Impersonate-Uid or Impersonate-Extra-* alone, or an unknown Impersonate-* name, as a request', () => {
    for (const raw of [['Impersonate-Uid', '0'], ['impersonate-extra-foo', 'bar'], ['Impersonate-Whatever', 'x']]) {
      const headers = parsedHeaders(raw);
      assert.notEqual(scrubClientIdentity(headers, raw), undefined, raw[0]);
      assert.deepEqual(headers, {}, raw[0]);
    }
  });

  it('sees an impersonation header even after an earlier pass removed it from req.headers', () => {
    const raw = ['Connection', 'Impersonate-User', 'Impersonate-User', 'system:admin'];
    const headers = parsedHeaders(raw);
    dropHopByHop(headers);
    assert.equal(scrubClientIdentity(headers, raw)?.user, 'system:admin');
  });

  it('returns undefined when no impersonation was asked for, still stripping the other identity headers', () => {
    const raw = ['Authorization', 'Bearer x', 'X-Forwarded-For', '1.2.3.4', 'Accept', '*/*'];
    const headers = parsedHeaders(raw);
    assert.equal(scrubClientIdentity(headers, raw), undefined);
    assert.deepEqual(headers, { accept: '*/*' });
  });

  it('hasClientIdentityHeaders is the fail-closed check for any survivor', () => {
    for (const name of ['impersonate-group', 'Impersonate_User', 'x-remote-user', 'x-forwarded-for', 'forwarded', 'x-real-ip', 'authorization', 'cookie', 'audit-id']) {
      assert.equal(hasClientIdentityHeaders({ [name]: 'v' }), true, name);
    }
    assert.equal(hasClientIdentityHeaders({ accept: '*/*', 'x-request-id': '1' }), false);
  });
});

describe('pass: identityHeaders', () => {
  const alice: ProxyPrincipal = { userId: 7, userName: 'plain:alice', isSuperUser: false, groups: ['dev', 'system:masters', 'System:Nodes', 'ops'], tokenId: 42, tokenDigest: 'a'.repeat(64) };
  const admin: ProxyPrincipal = { userId: 1, userName: 'admin', isSuperUser: true, groups: [], tokenId: 3, tokenDigest: 'b'.repeat(64) };
  const on = { impersonateNormalUsers: true };

  it('gives a super user nothing: they act as the cluster credential', () => {
    assert.deepEqual(identityHeaders(admin, undefined, on), { headers: {} });
  });

  it("passes a super user's requested impersonation on, one line per group and extra value", () => {
    const r = identityHeaders(admin, { user: 'plain.alice', uid: 'u1', groups: ['g1', 'g2'], extra: { scopes: ['a', 'b'] } }, on);
    assert.deepEqual(r, {
      headers: { 'impersonate-user': 'plain.alice', 'impersonate-uid': 'u1', 'impersonate-group': ['g1', 'g2'], 'impersonate-extra-scopes': ['a', 'b'] },
      impersonated: 'plain.alice',
    });
  });

  it('impersonates a normal user as themselves: first ":" → ".", no system: groups, the two attribution extras', () => {
    const r = identityHeaders(alice, undefined, on);
    assert.ok(!('code' in r));
    assert.deepEqual(r.headers, {
      'impersonate-user': 'plain.alice',
      'impersonate-group': ['dev', 'ops'],
      'impersonate-extra-bcs.tencent.com%2Fgateway-user-id': '7',
      'impersonate-extra-bcs.tencent.com%2Fgateway-token-id': '42',
    });
    assert.equal(r.impersonated, 'plain.alice');
    assert.equal(kubernetesUserName('system:admin'), 'system.admin');
    assert.equal(kubernetesUserName('a:b:c'), 'a.b:c');
    assert.equal(extraHeaderName(EXTRA_USER_ID), 'impersonate-extra-bcs.tencent.com%2Fgateway-user-id');
    assert.equal(extraHeaderName(EXTRA_TOKEN_ID), 'impersonate-extra-bcs.tencent.com%2Fgateway-token-id');
  });

  it('sends no Impersonate-Group when a normal user has only system: groups', () => {
    const r = identityHeaders({ ...alice, groups: ['system:masters'] }, undefined, on);
    assert.ok(!('code' in r));
    assert.equal(r.headers['impersonate-group'], undefined);
  });

  it("refuses a normal user's own impersonation with a 403 Status failure", () => {
    for (const requested of [{ user: 'system:admin', groups: [], extra: {} }, { user: '', groups: ['system:masters'], extra: {} }, { uid: '0', groups: [], extra: {} }]) {
      const r = identityHeaders(alice, requested, on);
      assert.ok('code' in r);
      assert.equal(r.code, 403);
      assert.equal(r.reason, 'Forbidden');
      assert.match(r.message, /users "plain\.alice" is forbidden: only gateway super users may impersonate/);
    }
  });

  it('does not impersonate anyone when turn_on_rbac is off', () => {
    assert.deepEqual(identityHeaders(alice, undefined, { impersonateNormalUsers: false }), { headers: {} });
  });
});

describe('route: parseTunnelTarget', () => {
  it('splits cluster and Kubernetes path, keeping the query verbatim', () => {
    assert.deepEqual(parseTunnelTarget('/tunnels/clusters/BCS-K8S-40001/api/v1/namespaces/ns1/pods?watch=1&labelSelector=app%3Dweb&x=..%2F'), {
      clusterKey: 'BCS-K8S-40001',
      upstreamPath: '/api/v1/namespaces/ns1/pods?watch=1&labelSelector=app%3Dweb&x=..%2F',
    });
    assert.deepEqual(parseTunnelTarget('/tunnels/clusters/abc'), { clusterKey: 'abc', upstreamPath: '/' });
    assert.deepEqual(parseTunnelTarget('/tunnels/clusters/abc/apis/'), { clusterKey: 'abc', upstreamPath: '/apis/' });
    assert.deepEqual(parseTunnelTarget('/tunnels/clusters/abc/api/v1/namespaces/a%20b'), { clusterKey: 'abc', upstreamPath: '/api/v1/namespaces/a%20b' });
  });

  it('refuses anything that could change the cluster or escape the prefix', () => {
    const bad = [
      '/tunnels/clusters/a/../b/api',
      '/tunnels/clusters/a/./api',
      '/tunnels/clusters/a/%2e%2e/b/api',
      '/tunnels/clusters/a/%2E%2e/b/api',
      '/tunnels/clusters/a/.%2e/b/api',
      '/tunnels/clusters/a%2Fb/api',
      '/tunnels/clusters/a%2f..%2fb/api',
      '/tunnels/clusters/../a/api',
      '/tunnels/clusters/a/api%2fv1/pods',
      '/tunnels/clusters/a/api%5cv1/pods',
      '/tunnels/clusters/a/api/..%5c..%5cb',
      '/tunnels/clusters/a//api',
      '/tunnels/clusters//a/api',
      '/tunnels/clusters/a/api/%00',
      '/tunnels/clusters/a/api/x%0d%0aHost:%20evil',
      '/tunnels/clusters/a/api/\u0001',
      '/tunnels/clusters/a/api/%zz',
      '/tunnels/clusters/a\u00e9/api',
      "/tunnels/clusters/1'%20OR%20'1'='1/api",
      `/tunnels/clusters/${'a'.repeat(300)}/api`,
      'http://evil.example/tunnels/clusters/a/api',
      '//tunnels/clusters/a/api',
      '/tunnels/clusterz/a/api',
    ];
    for (const target of bad) {
      const r = parseTunnelTarget(target);
      assert.ok('error' in r, `${JSON.stringify(target)} was accepted as ${JSON.stringify(r)}`);
    }
  });
});
