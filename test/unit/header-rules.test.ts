import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import type { ClusterCache, ResolvedCluster } from '../../proxy/k8s/cluster-cache';
import { EXTRA_TOKEN_ID, EXTRA_USER_ID, extraHeaderName } from '../../proxy/k8s/passes/identity';
import { admit, type Admitted, type PipelineDeps, type Rejected } from '../../proxy/k8s/pipeline';
import { serializeHead } from '../../proxy/k8s/upgrade';
import { h1RequestHeaders, h2RequestHeaders } from '../../proxy/k8s/wire-headers';
import { isIndexLikeName, MAX_CLIENT_HEADER_CHARS, MAX_CLIENT_HEADER_LINES, overHeaderBudget } from '../../proxy/shared/header-budget';
import type { PrincipalCache, ProxyPrincipal } from '../../proxy/shared/principal-cache';
import { bearerFrom } from '../../src/domain/auth';
import { headerViolation } from '../../src/http/header-rules';

const GUARDED = ['Host', 'Authorization', 'X-Bcs-User-Token', 'Content-Type', 'Transfer-Encoding'];

function caseVariants(name: string): string[] {
  const lower = name.toLowerCase();
  return [name, lower, name.toUpperCase(), [...lower].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('')];
}

describe('headerViolation (listener rule)', () => {
  it('names each guarded field sent twice, in any mix of letter cases, wherever the lines are', () => {
    for (const name of GUARDED) {
      for (const a of caseVariants(name)) {
        for (const b of caseVariants(name)) {
          const raw = [a, 'one', 'Accept', '*/*', 'X-Other', 'x', b, 'two'];
          assert.equal(headerViolation(raw), `duplicate "${name}" header: send it once`, `${a} + ${b}`);
        }
      }
    }
  });

  it('accepts each guarded field once, all together, and repeats of other fields', () => {
    const raw = GUARDED.flatMap((n) => [n, 'v']).concat(['Accept', 'a', 'accept', 'b', 'Impersonate-Group', 'x', 'impersonate-group', 'y', 'Hosts', 'h', 'Content-Types', 'c']);
    assert.equal(headerViolation(raw), undefined);
    assert.equal(headerViolation([]), undefined);
  });

  it('does not take names of the same length for guarded ones', () => {
    assert.equal(headerViolation(['hose', 'a', 'hose', 'b', 'authorisation', 'a', 'authorisation', 'b', 'content-typo', 'a', 'content-typo', 'b', 'x-bcs-user-toke1', 'a', 'x-bcs-user-toke1', 'b']), undefined);
  });

  it('HTTP/2: a host that names another authority than :authority is refused; the same one (any case) is not', () => {
    const h2 = (host?: string) => [':method', 'GET', ':authority', 'gateway.test:8443', ':path', '/', ...(host === undefined ? [] : ['host', host])];
    assert.equal(headerViolation(h2()), undefined);
    assert.equal(headerViolation(h2('gateway.test:8443')), undefined);
    assert.equal(headerViolation(h2('GATEWAY.test:8443')), undefined);
    for (const other of ['gateway.test', 'other.test:8443', 'gateway.test:8444', 'gateway.test:84430']) {
      assert.match(headerViolation(h2(other)) ?? '', /names another authority than ":authority"/, other);
    }
    // Without :authority (an HTTP/1.1 request, or an h2 client that sends host only) there is nothing to compare.
    assert.equal(headerViolation(['host', 'anything']), undefined);
  });

  it('never puts a value into its message', () => {
    const message = headerViolation(['Authorization', 'Bearer bcs_secret1', 'authorization', 'Bearer bcs_secret2']) ?? '';
    assert.doesNotMatch(message, /bcs_secret/);
  });
});

describe('bearerFrom', () => {
  it('reads one Bearer value and refuses to pick one of several', () => {
    assert.equal(bearerFrom('Bearer abc'), 'abc');
    assert.equal(bearerFrom(['Bearer abc']), 'abc');
    assert.equal(bearerFrom(['Bearer alice', 'Bearer admin']), undefined);
    assert.equal(bearerFrom([]), undefined);
    assert.equal(bearerFrom(undefined), undefined);
  });
});

describe('header budget (tunnel and passthrough)', () => {
  const lines = (n: number, valueLength = 1) => Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v'.repeat(valueLength)]).flat();

  it(`allows ${MAX_CLIENT_HEADER_LINES} lines and refuses one more, not counting HTTP/2 pseudo-headers`, () => {
    assert.equal(overHeaderBudget(lines(MAX_CLIENT_HEADER_LINES)), undefined);
    assert.equal(overHeaderBudget([':method', 'GET', ':path', '/', ':authority', 'a', ':scheme', 'https', ...lines(MAX_CLIENT_HEADER_LINES)]), undefined);
    assert.equal(overHeaderBudget(lines(MAX_CLIENT_HEADER_LINES + 1)), `the request carries ${MAX_CLIENT_HEADER_LINES + 1} header lines; the gateway accepts at most ${MAX_CLIENT_HEADER_LINES}`);
  });

  it(`refuses more than ${MAX_CLIENT_HEADER_CHARS} characters of names and values`, () => {
    // One line: a five-character name and a value filling the rest.
    const fits = ['x-big', 'v'.repeat(MAX_CLIENT_HEADER_CHARS - 5)];
    assert.equal(overHeaderBudget(fits), undefined);
    assert.match(overHeaderBudget(['x-big', 'v'.repeat(MAX_CLIENT_HEADER_CHARS - 4)]) ?? '', /take 16385 bytes; the gateway accepts at most 16384/);
  });

  it('knows digits-only names', () => {
    for (const n of ['0', '7', '123', '4294967295', '01']) assert.equal(isIndexLikeName(n), true, n);
    for (const n of ['', 'a1', '1a', 'x-1', ':1', '1-2']) assert.equal(isIndexLikeName(n), false, n);
  });
});

describe('upstream header order: the gateway fields first', () => {
  const alice: ProxyPrincipal = { userId: 7, userName: 'plain:alice', isSuperUser: false, groups: ['dev', 'ops'], tokenId: 9, tokenDigest: 'd' };
  const cluster = { id: 'BCS-K8S-1', identifier: 'bcs-k8s-1-x', upstream: { secrets: { userToken: 'sa-token' } } } as unknown as ResolvedCluster;
  const deps: PipelineDeps = {
    principals: { authenticate: () => ({ ok: true, principal: alice }) } as unknown as PrincipalCache,
    clusters: { resolve: () => cluster } as unknown as ClusterCache,
    policy: { impersonateNormalUsers: true },
  };
  const request = (raw: string[]): IncomingMessage => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < raw.length; i += 2) headers[raw[i]!.toLowerCase()] ??= raw[i + 1]!;
    return { url: '/tunnels/clusters/BCS-K8S-1/api/v1/pods', method: 'GET', headers, rawHeaders: raw } as unknown as IncomingMessage;
  };
  const GATEWAY = ['authorization', 'impersonate-user', 'impersonate-group', extraHeaderName(EXTRA_USER_ID), extraHeaderName(EXTRA_TOKEN_ID), 'x-forwarded-for', 'audit-id'];

  it('admit lists authorization, impersonation, x-forwarded-for and audit-id before every client header; digits-only names are dropped', () => {
    const a = admit(request(['Host', 'g', 'Authorization', 'Bearer t', 'Accept', '*/*', '0', 'zero', 'User-Agent', 'kubectl', '42', 'x', 'X-Custom', 'c']), '10.0.0.9', 'req-1', deps) as Admitted;
    assert.deepEqual(Object.keys(a.headers), [...GATEWAY, 'accept', 'user-agent', 'x-custom']);
    assert.equal(a.headers.authorization, 'Bearer sa-token');
    assert.deepEqual(a.headers['impersonate-group'], ['dev', 'ops']);
  });

  it(`admit refuses more than ${MAX_CLIENT_HEADER_LINES} client lines with 431 RequestHeaderFieldsTooLarge`, () => {
    const raw = ['Host', 'g', 'Authorization', 'Bearer t', ...Array.from({ length: 99 }, (_, i) => [`x-f${i}`, 'v']).flat()];
    const r = admit(request(raw), '10.0.0.9', 'req-2', deps) as Rejected;
    assert.equal(r.failure.code, 431);
    assert.equal(r.failure.reason, 'RequestHeaderFieldsTooLarge');
  });

  it('the serializers keep that order on the wire: HTTP/1.1 after Host, h2 after the pseudo-headers, upgrades after Host/Connection/Upgrade', () => {
    const headers = { authorization: 'Bearer sa', 'impersonate-user': 'u', 'impersonate-group': ['a', 'b'], 'audit-id': 'r', accept: '*/*', 'x-custom': 'c' };
    assert.deepEqual(Object.keys(h1RequestHeaders(headers, '10.0.0.1:6443')), ['host', 'authorization', 'impersonate-user', 'impersonate-group', 'audit-id', 'accept', 'x-custom']);
    assert.deepEqual(Object.keys(h2RequestHeaders('GET', '/', '10.0.0.1:6443', headers)), [':method', ':path', ':authority', ':scheme', 'authorization', 'impersonate-user', 'impersonate-group', 'audit-id', 'accept', 'x-custom']);
    const head = serializeHead('GET', '/exec', '10.0.0.1:6443', 'websocket', headers).split('\r\n').slice(1, -2);
    assert.deepEqual(
      head.map((l) => l.slice(0, l.indexOf(':'))),
      ['Host', 'Connection', 'Upgrade', 'authorization', 'impersonate-user', 'impersonate-group', 'impersonate-group', 'audit-id', 'accept', 'x-custom'],
    );
  });
});
