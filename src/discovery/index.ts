/**
 * Service discovery over ZooKeeper (reference §6). `createDiscovery(config, …)` picks the implementation:
 * `ZookeeperDiscovery` when `bcs_zookeeper` is set, else `DisabledDiscovery` (state 'disabled').
 * The caller owns the lifecycle: `start()` at boot (it does not block), `await stop()` at shutdown.
 */
import type { Config } from '../config/config';
import type { Logger } from '../log';
import { ZkChangeSignal } from './change-signal';
import { DisabledDiscovery } from './disabled';
import { digestAcl } from './zk-client';
import { ZookeeperDiscovery, type DiscoveryService, type SelfRegistration, type ZookeeperDiscoveryOptions } from './zookeeper-discovery';

export * from './types';
export * from './zookeeper-discovery';
export { DisabledDiscovery } from './disabled';
export { CHANGES_NODE, signalOnce, ZkChangeSignal } from './change-signal';
export { BCS_ENDPOINTS_BASE, createProtectedEphemeralSequential, orderBySequence, parseServerInfo } from './registration';
export { createZkClient, digestAcl, ZkError, type ZkClient, type ZkClientFactory, type ZkClientOptions } from './zk-client';

export function createDiscovery(
  config: Pick<Config, 'zookeeper' | 'zookeeperClient'>,
  opts: { register?: SelfRegistration; logger?: Logger } & Partial<Omit<ZookeeperDiscoveryOptions, 'hosts'>> = {},
): DiscoveryService {
  if (!config.zookeeper) return new DisabledDiscovery();
  return new ZookeeperDiscovery({
    sessionTimeoutMs: config.zookeeperClient.sessionTimeoutSeconds * 1000,
    auth: config.zookeeperClient.auth,
    ...opts,
    hosts: config.zookeeper,
  });
}

/** The change signal over the discovery's own session; none without ZooKeeper (readers poll every 500 ms). */
export function createChangeSignal(config: Pick<Config, 'zookeeperClient'>, discovery: DiscoveryService, logger?: Logger): ZkChangeSignal | undefined {
  if (!(discovery instanceof ZookeeperDiscovery)) return undefined;
  const { auth, changePollSeconds } = config.zookeeperClient;
  return new ZkChangeSignal(discovery, {
    safetyNetMs: (changePollSeconds ?? 10) * 1000,
    acl: auth && digestAcl(auth.user, auth.password),
    log: logger?.child({ component: 'change-signal' }),
  });
}
