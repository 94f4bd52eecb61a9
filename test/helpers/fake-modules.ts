/**
 * Fake BCS modules (storage, metricservice, netservice, clusterkeeper, networkdetection) for the
 * `/bcsapi/v4` passthrough tests: an HTTP server that records what reaches it, registered in ZooKeeper
 * as the original's modules register (`CreateProtectedEphemeralSequential("<base>/<module>/<ip>")` →
 * `_c_<32 hex>-<ip><seq>`, ServerInfo JSON, parents created as needed), on a session of its own.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawClient, type RawClient } from './zookeeper';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type FakeHandler = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void;

/** Replies 200 with the request it saw, as JSON; a handler may answer otherwise. */
export class FakeModuleServer {
  readonly seen: SeenRequest[] = [];
  handler?: FakeHandler;
  /** Handlers that take the raw request (streamed bodies): they get it before the body is read. */
  raw?: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  private constructor(
    readonly name: string,
    readonly server: http.Server,
  ) {}

  static async start(name: string): Promise<FakeModuleServer> {
    const server = http.createServer();
    const fake = new FakeModuleServer(name, server);
    server.on('request', (req, res) => {
      if (fake.raw) return fake.raw(req, res);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
        fake.seen.push(seen);
        if (fake.handler) return fake.handler(req, res, seen);
        const body = JSON.stringify({ result: true, code: 0, message: 'success', data: { module: name, url: seen.url } });
        res.writeHead(200, { 'content-type': 'application/json', 'x-module': name });
        res.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** A module's registration: closing it ends its session, and ZooKeeper deletes the ephemeral node. */
export class ModuleRegistration {
  private constructor(
    readonly client: RawClient,
    readonly path: string,
  ) {}

  static async register(
    connect: string,
    module: string,
    info: { ip: string; port: number; scheme?: string; external_ip?: string; external_port?: number },
    opts: { auth?: { user: string; password: string }; sessionTimeoutMs?: number } = {},
  ): Promise<ModuleRegistration> {
    const client = await rawClient(connect, { sessionTimeoutMs: opts.sessionTimeoutMs, auth: opts.auth });
    const dir = `/bcs/services/endpoints/${module}`;
    await client.mkdirp(dir);
    const full = { scheme: 'http', hostname: `${module}-${info.ip}`, pid: 4243, version: 'fake', metric_port: 9091, ...info };
    const created = await client.create(`${dir}/_c_${randomBytes(16).toString('hex')}-${info.ip}`, JSON.stringify(full), 3);
    if (opts.auth) await client.setDigestAcl(created, opts.auth.user, opts.auth.password);
    return new ModuleRegistration(client, created);
  }

  close(): void {
    this.client.close();
  }
}
