/**
 * Discovery when `bcs_zookeeper` is not configured: nothing is discovered, so the driver and module
 * passthroughs can answer with a clear "not configured" error, and readiness is not held back by it.
 */
import { EventEmitter } from 'node:events';
import type { DiscoveredServer, DiscoveryHealth, DiscoveryService } from './service';
import type { DiscoveryState, DriverModule, ServerInfo, ServiceModule } from './types';

export class DisabledDiscovery extends EventEmitter implements DiscoveryService {
  start(): void {}

  async stop(): Promise<void> {}

  drivers(_module: DriverModule, _clusterId: string): ServerInfo[] {
    return [];
  }

  servers(_module: ServiceModule): ServerInfo[] {
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
