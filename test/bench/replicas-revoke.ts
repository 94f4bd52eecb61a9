/**
 * Revocation propagation of `bench:replicas`: a fresh token is issued on replica A and used once on
 * every other replica (so each has it cached, the case the change signal must invalidate), then revoked
 * on A; each other replica is polled until it answers 401. The time counts from the moment the revoke
 * mutation was sent, so it includes A's own commit.
 */
import { sleep } from './bench-common';
import type { BenchGateway } from './tunnel-gateway';

export interface Propagation {
  /** Per revocation: ms until the slowest other replica refused. */
  slowest: number[];
  /** Per revocation: ms the revoke mutation took on A. */
  revokeCall: number[];
}

async function graphql<T>(gw: BenchGateway, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${gw.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.admin}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (!body.data) throw new Error(`graphql: ${res.status} ${JSON.stringify(body.errors)}`);
  return body.data;
}

const status = (url: string, token: string): Promise<number> =>
  fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

/**
 * `times` revocations on `a`; `urls[i]` is a small GET on `others[i]` (a cluster that replica holds, so
 * the poll measures authentication, not relaying). Polls every `pollMs`, gives up after `timeoutMs`.
 */
export async function measureRevocations(a: BenchGateway, others: { gw: BenchGateway; url: string }[], times: number, pollMs = 10, timeoutMs = 10_000): Promise<Propagation> {
  const out: Propagation = { slowest: [], revokeCall: [] };
  for (let i = 0; i < times; i += 1) {
    const issued = await graphql<{ issueToken: { secret: string; token: { id: number } } }>(a, 'mutation($n: String) { issueToken(input: { name: $n }) { secret token { id } } }', { n: `bench-revoke-${i}` });
    const { secret, token } = issued.issueToken;
    for (const o of others) {
      const s = await status(o.url, secret);
      if (s !== 200) throw new Error(`a fresh token answered ${s} on ${o.gw.base}`);
    }
    const t0 = performance.now();
    const revoked = graphql(a, 'mutation($id: Int!) { revokeToken(id: $id) { id } }', { id: token.id }).then(() => performance.now() - t0);
    const refused = await Promise.all(
      others.map(async (o) => {
        for (;;) {
          if ((await status(o.url, secret)) === 401) return performance.now() - t0;
          if (performance.now() - t0 > timeoutMs) return Infinity;
          await sleep(pollMs);
        }
      }),
    );
    out.revokeCall.push(await revoked);
    out.slowest.push(Math.max(...refused));
  }
  return out;
}

/** The q-quantile (0..1) of `xs`, nearest rank. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
