import assert from 'node:assert/strict';
import { sha256Hex } from '../../src/crypto/tokens';
import { STORE_RETRY_AFTER_SECONDS, STORE_UNAVAILABLE_MESSAGE } from '../../src/store/outage';
import type { LogLines } from '../helpers/log-lines';

export interface Reply {
  status: number;
  retryAfter: string | null;
  text: string;
  body: any;
}

/** One request per edge of the gateway, each as its clients send it. */
export class Edges {
  constructor(
    private readonly base: string,
    private readonly identifier: string,
  ) {}

  private async send(method: string, path: string, token: string, body?: unknown): Promise<Reply> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), text, body: parsed };
  }

  rest(token: string, path: string, body?: unknown): Promise<Reply> {
    return this.send(body === undefined ? 'GET' : 'POST', `/rest${path}`, token, body);
  }

  userManager(token: string, path: string, method = 'GET'): Promise<Reply> {
    return this.send(method, `/bcsapi/v4/usermanager/v1${path}`, token);
  }

  graphql(token: string, query: string): Promise<Reply> {
    return this.send('POST', '/graphql', token, { query });
  }

  tunnel(token: string, path = '/version'): Promise<Reply> {
    return this.send('GET', `/tunnels/clusters/${this.identifier}${path}`, token);
  }

  mesos(token: string, path = 'admissionwebhooks'): Promise<Reply> {
    return this.send('GET', `/bcsapi/v4/scheduler/mesos/${path}`, token);
  }
}

const RETRY_AFTER = String(STORE_RETRY_AFTER_SECONDS);

function assertRetryable(r: Reply): void {
  assert.equal(r.status, 503, r.text);
  assert.equal(r.retryAfter, RETRY_AFTER, 'Retry-After');
}

/** `/rest`: the original's `{code_name, message}` with its dbError code. */
export function assertRest503(r: Reply): void {
  assertRetryable(r);
  assert.deepEqual(r.body, { code_name: 'STORE_UNAVAILABLE', message: `errcode: 1405062, ${STORE_UNAVAILABLE_MESSAGE}` });
}

/** User manager: the `{result, code, message, data}` envelope. */
export function assertUserManager503(r: Reply): void {
  assertRetryable(r);
  assert.deepEqual(r.body, { result: false, code: 1405062, message: `errcode: 1405062, ${STORE_UNAVAILABLE_MESSAGE}`, data: null });
}

export function assertGraphql503(r: Reply): void {
  assertRetryable(r);
  assert.equal(r.body.errors.length, 1, r.text);
  assert.equal(r.body.errors[0].extensions.code, 'UNAVAILABLE');
  assert.equal(r.body.errors[0].message, STORE_UNAVAILABLE_MESSAGE);
  assert.equal(r.body.data ?? null, null);
}

/** The tunnel: a Kubernetes Status, as kubectl prints it. */
export function assertTunnel503(r: Reply): void {
  assertRetryable(r);
  assert.equal(r.body.kind, 'Status');
  assert.equal(r.body.code, 503);
  assert.equal(r.body.reason, 'ServiceUnavailable');
  assert.match(r.body.message, /store unavailable/);
}

/** The Mesos driver passthrough: the BCS envelope with the `(bcs-api):` prefix. */
export function assertPassthrough503(r: Reply): void {
  assertRetryable(r);
  assert.deepEqual(r.body, { result: false, code: 1405062, message: `(bcs-api):${STORE_UNAVAILABLE_MESSAGE}`, data: null });
}

/** Either it was served (in full: a GraphQL 200 carries no error) before the store went, or it is the edge's 503: never a 500. */
export function assertServedOr503(r: Reply, assert503: (r: Reply) => void): void {
  if (r.status !== 200) return assert503(r);
  assert.equal(r.body?.errors, undefined, r.text);
}

/**
 * What an outage may leave in the log: one 'store unavailable' line with its cause and one 'store available
 * again' per outage, nothing else at warn or above, no stack, no SQL, no token and no token digest.
 */
export function assertOutageLogged(logs: LogLines, outages: number, tokens: string[], causeCodes: RegExp): void {
  const down = logs.withMessage('store unavailable');
  const up = logs.withMessage('store available again');
  assert.equal(down.length, outages, JSON.stringify(down));
  assert.equal(up.length, outages, JSON.stringify(up));
  for (const line of down) {
    const cause = line['cause'] as Record<string, unknown>;
    assert.equal(line['level'], 50);
    assert.ok(typeof cause['type'] === 'string' && typeof cause['message'] === 'string', JSON.stringify(line));
    assert.match(String(cause['code']), causeCodes, JSON.stringify(line));
  }
  for (const line of up) assert.ok(Number(line['failedRequests']) >= 1 && Number(line['downForMs']) >= 0, JSON.stringify(line));
  const others = logs.warnings().filter((l) => !down.includes(l) && !up.includes(l));
  assert.deepEqual(others, [], 'no other warning or error');
  for (const raw of logs.raw) {
    assert.doesNotMatch(raw, /select |insert into|update `|delete from/i, 'no SQL in the log');
    assert.ok(!raw.includes('"stack"'), `no stack in the log: ${raw}`);
    for (const token of tokens) {
      assert.ok(!raw.includes(token), 'no token in the log');
      assert.ok(!raw.includes(sha256Hex(token)), `no token digest in the log: ${raw}`);
    }
  }
}
