/** The HTTP/2 and TLS clients of `bench:proxy`: idle watches over the gateway's TLS listener, and the small GET over h2. */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { openWatchesWith } from './bench-common';
import { DURATION, type Row } from './proxy-rounds';

/** WATCHES idle watches as streams of one HTTP/2 session, as client-go multiplexes its watches. */
export async function openH2Watches(origin: string, ca: string, prefix: string, token: string, n: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(origin, { ca, servername: 'localhost', peerMaxConcurrentStreams: n + 10 });
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  if (session.alpnProtocol !== 'h2') throw new Error(`gateway TLS listener negotiated ${String(session.alpnProtocol)}, not h2`);
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve, reject) => {
        const stream = session.request({ ':path': `${prefix}/api/v1/namespaces/default/pods?watch=1`, authorization: `Bearer ${token}` });
        stream.once('response', (h) => {
          if (h[':status'] !== 200) reject(new Error(`h2 watch answered ${h[':status']}`));
        });
        stream.once('data', () => resolve());
        stream.once('error', reject);
        stream.resume();
      }),
    ),
  );
  return session;
}

/** WATCHES idle watches over HTTP/1.1 to the TLS listener, each on its own TLS connection. */
export function openTlsWatches(origin: string, ca: string, prefix: string, token: string, n: number): Promise<http.ClientRequest[]> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: Infinity, ca, servername: 'localhost' });
  return openWatchesWith(https.get, agent, `${origin}${prefix}/api/v1/namespaces/default/pods?watch=1`, token, n);
}

/** The small-GET load over HTTP/2: `connections` streams in flight, spread over `sessionCount` sessions. */
export async function loadH2(name: string, origin: string, ca: string, p: string, token: string, connections: number, sessionCount: number): Promise<Row> {
  const run = async (seconds: number): Promise<{ done: number; errors: number; latencies: number[] }> => {
    const sessions = Array.from({ length: sessionCount }, () => {
      const s = http2.connect(origin, { ca, servername: 'localhost' });
      s.on('error', () => undefined);
      return s;
    });
    const end = Date.now() + seconds * 1000;
    let done = 0;
    let errors = 0;
    const latencies: number[] = [];
    const worker = async (i: number): Promise<void> => {
      const session = sessions[i % sessions.length]!;
      while (Date.now() < end) {
        const t0 = process.hrtime.bigint();
        const status = await new Promise<number>((resolve) => {
          const st = session.request({ ':path': p, authorization: `Bearer ${token}` });
          let code = 0;
          st.once('response', (h) => (code = Number(h[':status'])));
          st.on('data', () => undefined);
          st.once('end', () => resolve(code));
          st.once('error', () => resolve(0));
          st.end();
        });
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (status === 200) done += 1;
        else errors += 1;
      }
    };
    await Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
    for (const s of sessions) s.close();
    return { done, errors, latencies };
  };
  await run(2);
  const r = await run(DURATION);
  r.latencies.sort((a, b) => a - b);
  const q = (f: number): number => Math.round(r.latencies[Math.min(r.latencies.length - 1, Math.floor(f * r.latencies.length))] ?? 0);
  return { name, rps: r.done / DURATION, p50: q(0.5), p99: q(0.99), note: r.errors ? `${r.errors} errors/non-2xx` : undefined };
}
