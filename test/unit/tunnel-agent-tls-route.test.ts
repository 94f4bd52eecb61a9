/**
 * Where the gateway decides between TLS over the tunnel (`tcp` Connect) and TLS ended by the agent
 * (`tls` Connect): only an agent that announced it, and only with the very token and CA that agent
 * brought. Any other credential (an operator's) keeps TLS end to end to the apiserver.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import WebSocket, { WebSocketServer } from 'ws';
import { createLogger } from '../../src/log';
import { agentTerminatedDial } from '../../src/tunnel/routes';
import { decodeMessage, MessageType, parseConnectPayload, type TunnelMessage } from '../../src/tunnel/wire';
import { TunnelMetrics } from '../../proxy/tunnel/metrics';
import { TunnelRegistry } from '../../proxy/tunnel/registry';
import { tunnelRoutes } from '../../proxy/tunnel/routes';
import { DEFAULT_LIMITS, TunnelSession, type TunnelParams } from '../../proxy/tunnel/session';
import { waitFor } from '../helpers/wait';

const AGENT = { address: 'https://10.0.0.1:6443', hostPort: '10.0.0.1:6443', userToken: 'agent-token', caCertPem: 'agent-ca' };

describe('agent-terminated TLS: the gateway\'s decision', () => {
  const servers: WebSocketServer[] = [];
  const sockets: WebSocket[] = [];
  after(() => {
    for (const s of sockets) s.terminate();
    for (const s of servers) s.close();
  });

  /** A session in `registry` whose agent (played by the test) announced `agentTls` or not; returns the Connects it receives. */
  async function connectAgent(registry: TunnelRegistry, params: TunnelParams): Promise<TunnelMessage[]> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    servers.push(wss);
    await new Promise((r) => wss.once('listening', r));
    const connects: TunnelMessage[] = [];
    const accepted = new Promise<void>((resolve) =>
      wss.once('connection', (ws) => {
        registry.add(new TunnelSession('c1', params, '127.0.0.1', ws, DEFAULT_LIMITS, new TunnelMetrics(new Registry()), createLogger('silent'), () => undefined));
        resolve();
      }),
    );
    const agent = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    sockets.push(agent);
    agent.on('message', (f: Buffer) => {
      const m = decodeMessage(f);
      if (m.type === MessageType.Connect) connects.push(m);
    });
    await new Promise((r) => agent.once('open', r));
    await accepted;
    return connects;
  }
  const form = (m: TunnelMessage | undefined): string => (m ? parseConnectPayload(m.payload).proto : 'none');
  const url = new URL(AGENT.address);

  it('uses the agent\'s TLS with the credential that agent brought, and TLS over the tunnel with any other', async () => {
    const registry = new TunnelRegistry();
    const connects = await connectAgent(registry, { ...AGENT, agentTls: true });
    const route = tunnelRoutes(registry, 5000).route('c1');
    assert.ok(route && !(route instanceof Promise));
    assert.ok(route.agentTls, 'offered: the agent announced agentTls');

    const own = agentTerminatedDial(route, { userToken: route.secrets.userToken, caCertData: route.secrets.caCertData });
    assert.ok(own, 'the agent\'s own credential: plaintext through the agent');
    own(url).destroy();
    await waitFor('tls Connect', () => connects.length === 1);
    assert.equal(form(connects[0]), 'tls');

    // An operator's credential (another token, or another CA) is never sent readable to the agent.
    assert.equal(agentTerminatedDial(route, { userToken: 'operator-token', caCertData: AGENT.caCertPem }), undefined);
    assert.equal(agentTerminatedDial(route, { userToken: AGENT.userToken, caCertData: 'operator-ca' }), undefined);
    route.dial(url).destroy();
    await waitFor('tcp Connect', () => connects.length === 2);
    assert.equal(form(connects[1]), 'tcp');
  });

  it('offers nothing to an agent that did not announce it (the original agent), and never dials tls through it', async () => {
    const registry = new TunnelRegistry();
    const connects = await connectAgent(registry, { ...AGENT });
    const route = tunnelRoutes(registry, 5000).route('c1');
    assert.ok(route && !(route instanceof Promise));
    assert.equal(route.agentTls, undefined);
    assert.equal(agentTerminatedDial(route, { userToken: AGENT.userToken, caCertData: AGENT.caCertPem }), undefined);
    // Even asked directly, the registry finds no tunnel that ends TLS with this credential.
    const refused = registry.dial('c1', AGENT.hostPort, 5000, { userToken: AGENT.userToken, caCertPem: AGENT.caCertPem });
    const err = await new Promise<Error>((resolve) => refused.once('error', resolve));
    assert.match(err.message, /no agent tunnel ending TLS with this credential/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(connects.length, 0);
  });

  it('dials tls only through a tunnel whose agent brought the same token and CA', async () => {
    const registry = new TunnelRegistry();
    const first = await connectAgent(registry, { ...AGENT, agentTls: true });
    // A newer tunnel of the cluster whose agent brought another token.
    const second = await connectAgent(registry, { ...AGENT, userToken: 'other-agent-token', agentTls: true });
    registry.dial('c1', AGENT.hostPort, 5000, { userToken: AGENT.userToken, caCertPem: AGENT.caCertPem }).destroy();
    await waitFor('tls Connect through the first', () => first.length === 1);
    assert.equal(form(first[0]), 'tls');
    assert.equal(second.length, 0);
  });
});
