/**
 * Revocation time through a gateway with workers: a fresh token is used on fresh connections (the
 * primary hands connections to the workers in turn, so every worker caches it), then revoked; each
 * poll sends one request per worker and more, each on its own connection, until all are refused.
 * The time counts from the moment the revoke mutation was sent.
 */
import http from 'node:http';
import { sleep } from './bench-common';

function status(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', () => resolve(0));
  });
}

async function graphql<T>(base: string, admin: string, query: string): Promise<T> {
  const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify({ query }) });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (!body.data) throw new Error(`graphql: ${res.status} ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** ms until every worker refused the revoked token, per revocation. */
export async function workersRevocation(base: string, admin: string, url: string, workers: number, times = 5): Promise<number[]> {
  const fan = Math.max(2, workers * 2);
  const out: number[] = [];
  for (let i = 0; i < times; i += 1) {
    const { issueToken } = await graphql<{ issueToken: { secret: string; token: { id: number } } }>(base, admin, `mutation { issueToken(input: {name: "bench-revoke-${i}"}) { secret token { id } } }`);
    const warm = await Promise.all(Array.from({ length: fan * 2 }, () => status(url, issueToken.secret)));
    if (warm.some((s) => s !== 200)) throw new Error(`a fresh token answered ${warm.join(',')}`);
    const t0 = performance.now();
    const revoked = graphql(base, admin, `mutation { revokeToken(id: ${issueToken.token.id}) { id } }`);
    for (;;) {
      const polled = await Promise.all(Array.from({ length: fan }, () => status(url, issueToken.secret)));
      if (polled.every((s) => s === 401)) break;
      if (performance.now() - t0 > 10_000) {
        out.push(Infinity);
        break;
      }
      await sleep(10);
    }
    if (out.length === i) out.push(performance.now() - t0);
    await revoked;
  }
  return out;
}
