/** The summary `/readyz` shows of ZooKeeper discovery. */
import type { DiscoveredServer, DiscoveryHealth } from './service';
import type { ServiceModule } from './types';
import { HOLDER_MODULE } from './types';
import type { SessionKeeper } from './zk-session';

export function discoveryHealth(keeper: SessionKeeper, all: DiscoveredServer[], o: { hosts: string; requestedTimeoutMs: number; registering: boolean }): DiscoveryHealth {
  const state = keeper.state();
  const iso = (t?: number): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
  const message =
    state === 'connected'
      ? 'zookeeper connected, server cache in sync'
      : state === 'stale'
        ? `zookeeper unreachable for longer than the session timeout; not routing to discovered servers (tunnel holders excepted: relays go to the last known)`
        : keeper.lastSyncAt === undefined
          ? 'connecting to zookeeper'
          : 'zookeeper connection lost; serving the cached servers while reconnecting';
  const drivers = all.filter((s) => s.clusterId !== undefined && s.module !== HOLDER_MODULE);
  const services: Partial<Record<ServiceModule, number>> = {};
  for (const s of all) if (s.clusterId === undefined) services[s.module as ServiceModule] = (services[s.module as ServiceModule] ?? 0) + 1;
  const session = keeper.current;
  return {
    state,
    ready: state === 'connected',
    message,
    hosts: o.hosts,
    sessionId: session?.client.sessionId || undefined,
    sessionTimeoutMs: session?.client.sessionTimeoutMs ?? o.requestedTimeoutMs,
    sessions: keeper.sessions,
    lastSyncAt: iso(keeper.lastSyncAt),
    disconnectedSince: iso(keeper.disconnectedSince),
    clusters: new Set(drivers.map((s) => `${s.module}/${s.clusterId}`)).size,
    drivers: drivers.length,
    services,
    registration: o.registering ? { path: session?.ownPath } : undefined,
  };
}
