/**
 * The benchmark's floor for a proxy written on Node: an HTTP/1.1 server relaying every request to one
 * apiserver over an undici keep-alive pool with a fixed credential. No authentication, identity,
 * audit, metrics, routing or timeouts. What the gateway costs above this row is the price of its features;
 * what this row costs against `kubectl proxy` is the price of the runtime.
 * Usage: node bare-proxy.js <apiserver url> <ca file> <token>; prints `listening <port>`.
 */
import fs from 'node:fs';
import http from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const [upstream, caFile, token] = process.argv.slice(2) as [string, string, string];
const pool = new Pool(upstream, { connections: null, pipelining: 1, connect: { ca: fs.readFileSync(caFile), servername: 'kubernetes' } });
const HOP = new Set(['connection', 'keep-alive', 'host', 'authorization', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection']);

const server = http.createServer((req, res) => {
  const headers: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (!HOP.has(req.rawHeaders[i]!.toLowerCase())) headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  headers.push('authorization', `Bearer ${token}`);
  const handler: Dispatcher.DispatchHandler = {
    onConnect: () => undefined,
    onHeaders: (status, raw) => {
      if (status < 200) return true;
      const out: string[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!.toString('latin1');
        if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1]!.toString('latin1'));
      }
      res.writeHead(status, out);
      return true;
    },
    onData: (chunk) => res.write(chunk),
    onComplete: () => res.end(),
    onError: () => res.destroy(),
  };
  pool.dispatch({ method: req.method ?? 'GET', path: req.url ?? '/', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, handler);
  if (req.method === 'GET' || req.method === 'HEAD') req.resume();
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
process.on('SIGTERM', () => process.exit(0));
