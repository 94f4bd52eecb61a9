/**
 * Discovery when `bcs_zookeeper` is not configured: nothing is discovered, so the mesos/k8s-driver
 * passthroughs can answer with a clear "not configured" error, and readiness is not held back by it.
 */
import { EventEmitter } from 'node:events';
import type { DiscoveryState, DriverModule, ServerInfo } from './types';
import type { DiscoveredServer, DiscoveryHealth, DiscoveryService } from './zookeeper-discovery';

export class DisabledDiscovery extends EventEmitter implements DiscoveryService {
  start(): void {}

  async stop(): Promise<void> {}

  drivers(_module: DriverModule, _clusterId: string): ServerInfo[] {
    return [];
  }

  state(): DiscoveryState {
    return 'disabled';
  }

  list(): DiscoveredServer[] {
    return [];
  }

  health(): DiscoveryHealth {
    return { state: 'disabled', ready: true, message: 'zookeeper discovery is not configured (bcs_zookeeper is empty)' };
  }
}
