import type http from 'node:http';
import type https from 'node:https';
import { DialledHttpAgent, DialledHttpsAgent } from '../../src/tunnel/dialled-agents';
import type { DriverModuleName } from '../tunnel/handshake';
import type { DriverRoutes } from '../tunnel/driver-tunnels';
import type { PeerDialer } from './dialer';
import type { Holders } from './directory';

/** Idle keep-alive connections through a peer close after this, so the peer's virtual connections return to zero. */
const IDLE_MS = 30_000;

/**
 * Drivers behind tunnels: this process's first; without one, those peers hold, each through a keep-alive
 * agent whose connections are relays to the driver's reported address (https drivers verified with the
 * same TLS options as local ones, end to end over the relay).
 */
export class PeerDriverRoutes implements DriverRoutes {
  /** `<module>/<cluster>` → `<peer url>|<target>` → agent. */
  private readonly agents = new Map<string, Map<string, http.Agent>>();

  constructor(
    private readonly local: DriverRoutes,
    private readonly directory: Holders,
    private readonly dialer: PeerDialer,
    private readonly tls: https.AgentOptions,
  ) {}

  live(module: DriverModuleName, clusterId: string): { base: string; agent: http.Agent }[] {
    const here = this.local.live(module, clusterId);
    if (here.length) return here;
    const group = `${module}/${clusterId}`;
    const known = this.agents.get(group) ?? new Map<string, http.Agent>();
    const next = new Map<string, http.Agent>();
    const out = this.directory.holders(clusterId, module).map((h) => {
      const key = `${h.url}|${h.target}`;
      let agent = known.get(key) ?? next.get(key);
      if (!agent) {
        const dial = () => this.dialer.dial(h.url, { clusterId, module, target: h.target });
        const opts = { keepAlive: true, maxSockets: 64, timeout: IDLE_MS };
        agent = h.address.startsWith('https:') ? new DialledHttpsAgent(dial, { ...this.tls, ...opts }) : new DialledHttpAgent(dial, opts);
      }
      next.set(key, agent);
      return { base: h.address, agent };
    });
    for (const [key, agent] of known) if (!next.has(key)) agent.destroy();
    if (next.size) this.agents.set(group, next);
    else this.agents.delete(group);
    return out;
  }

  stop(): void {
    for (const group of this.agents.values()) for (const agent of group.values()) agent.destroy();
    this.agents.clear();
  }
}
