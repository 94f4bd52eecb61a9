import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DiscoveryState, DriverDiscovery, DriverModule, ServerInfo } from '../../src/discovery/types';

/** Discovery as the passthrough sees it, set by each test (the ZooKeeper informer has its own suite). */
export class StaticDiscovery implements DriverDiscovery {
  servers = new Map<string, ServerInfo[]>();
  current: DiscoveryState = 'connected';
  drivers(module: DriverModule, clusterId: string): ServerInfo[] {
    return this.current === 'connected' ? (this.servers.get(`${module}/${clusterId}`) ?? []) : [];
  }
  state(): DiscoveryState {
    return this.current;
  }
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** A driver on loopback that records every request and answers 200 JSON. */
export async function recordingDriver(seen: SeenRequest[], cluster: string): Promise<{ server: http.Server; info: ServerInfo }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"result":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, info: { ip: '127.0.0.1', port: (server.address() as AddressInfo).port, scheme: 'http', cluster } };
}
