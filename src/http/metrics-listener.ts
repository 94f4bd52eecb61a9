import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ListenerConfig } from '../config/config';
import type { Logger } from '../log';
import { exposition } from '../metrics';
import { pathOf } from './request-path';

export interface MetricsListener {
  /** `http://host:port` actually bound. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The original's Prometheus listener (`metric_config.metric_port`): plain HTTP serving only GET/HEAD
 * /metrics from the registry the main listeners use. No tokens cross it; it reveals only counters.
 */
export async function startMetricsListener(at: ListenerConfig, registry: Registry, logger: Logger): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (pathOf(req.url ?? '/') !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: this port serves /metrics only\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    exposition(registry).then(
      ({ body, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: unknown) => {
        logger.error({ err }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    url: `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}/metrics`,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
