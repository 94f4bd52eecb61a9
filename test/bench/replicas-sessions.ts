/**
 * Virtual connections for `bench:replicas`: idle exec sessions (`cat`, WebSocket v4.channel.k8s.io).
 * Watches would not do: the gateway multiplexes them over one HTTP/2 connection per cluster to the
 * apiserver, so thousands of watches hold a few virtual connections; each upgrade gets a TLS connection,
 * hence a virtual connection on the holder's tunnel, of its own.
 */
import WebSocket from 'ws';

const EXEC = '/api/v1/namespaces/default/pods/bench-pod/exec?command=cat&stdin=true&stdout=true';

function openExec(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['v4.channel.k8s.io'], { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`exec answered ${res.statusCode}`)));
  });
}

/**
 * `n` exec sessions: session i on cluster i % clusters.length through replica ⌊i / clusters.length⌋ %
 * replicas.length, so with three replicas a third reach the holder directly and two thirds are relayed.
 * Opened `parallel` at a time: thousands of handshakes at once would only measure the listen backlog.
 */
export async function openExecs(replicas: { base: string }[], prefixes: string[], token: string, n: number, parallel = 50): Promise<WebSocket[]> {
  const urls = Array.from({ length: n }, (_, i) => `${replicas[Math.floor(i / prefixes.length) % replicas.length]!.base.replace(/^http/, 'ws')}${prefixes[i % prefixes.length]}${EXEC}`);
  const open: WebSocket[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < urls.length) open.push(await openExec(urls[next++]!, token));
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return open;
}
