import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';

/** What /healthz answers: the last report succeeded (report mode), or the tunnel is up (websocket mode). */
export class AgentHealth {
  ok = false;
  detail = 'starting';

  set(ok: boolean, detail: string): void {
    this.ok = ok;
    this.detail = detail;
  }
}

export function agentMetrics() {
  const registry = new Registry();
  const m = {
    registry,
    healthy: new Gauge({ name: 'bcs_agent_healthy', help: '1 when the last report succeeded or the tunnel is connected', registers: [registry] }),
    reports: new Counter({ name: 'bcs_agent_reports_total', help: 'Credential reports by result (ok, rejected, failed)', labelNames: ['result'], registers: [registry] }),
    sessions: new Counter({ name: 'bcs_agent_tunnel_sessions_total', help: 'Tunnel sessions established', registers: [registry] }),
    handshakeFailures: new Counter({ name: 'bcs_agent_tunnel_handshake_failures_total', help: 'Tunnel dials that did not end in a session', registers: [registry] }),
    connections: new Gauge({ name: 'bcs_agent_tunnel_connections', help: 'Open virtual connections through the tunnel', registers: [registry] }),
    dials: new Counter({
      name: 'bcs_agent_tunnel_dials_total',
      help: 'Connects dialled, by form: tcp (bytes relayed as they are) or tls (the agent ends the apiserver TLS)',
      labelNames: ['connect'],
      registers: [registry],
    }),
    refused: new Counter({ name: 'bcs_agent_tunnel_connects_refused_total', help: 'Connect requests refused (target not allowed)', registers: [registry] }),
  };
  return m;
}

export type AgentMetrics = ReturnType<typeof agentMetrics>;

/** /healthz for the pod's probes and /metrics; anything else is 404. */
export function startHealthServer(listen: { host: string; port: number }, health: AgentHealth, metrics: AgentMetrics): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      res.writeHead(health.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${health.ok ? 'ok' : 'not ok'}: ${health.detail}\n`);
    } else if (path === '/metrics') {
      metrics.healthy.set(health.ok ? 1 : 0);
      void metrics.registry.metrics().then((body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  });
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export const boundPort = (server: http.Server): number => (server.address() as AddressInfo).port;
