/**
 * What the original's services register under /bcs/services/endpoints (reference §6): ServerInfo JSON in
 * ephemeral sequential nodes. Only the fields this gateway reads are typed; the rest pass through.
 */
export interface ServerInfo {
  ip: string;
  port: number;
  scheme?: 'http' | 'https' | string;
  cluster?: string;
  external_ip?: string;
  external_port?: number;
  hostname?: string;
  version?: string;
  pid?: number;
  [key: string]: unknown;
}

/** Modules registered per cluster: `<base>/<module>/<cluster id>/<node>`. */
export type DriverModule = 'mesosdriver' | 'kubernetedriver';

/** Modules registered flat: `<base>/<module>/<node>`. */
export type ServiceModule = 'storage' | 'metricservice' | 'netservice' | 'clusterkeeper' | 'networkdetection';

export const SERVICE_MODULES: readonly ServiceModule[] = ['storage', 'metricservice', 'netservice', 'clusterkeeper', 'networkdetection'];

/**
 * This gateway's own per-cluster directory (outside the original's `endpoints` tree, so its readers never
 * see it): the replicas holding each cluster's agent and driver tunnels.
 */
export type HolderModule = 'tunnelholders';
export const HOLDER_MODULE: HolderModule = 'tunnelholders';
export const TUNNEL_HOLDERS_DIR = '/bcs/services/bcs-api/tunnels';

/** Modules whose directory lists cluster ids, each a directory of nodes. */
export type ClusterModule = DriverModule | HolderModule;

export type DiscoveryModule = ClusterModule | ServiceModule;

export type DiscoveryState = 'disabled' | 'connecting' | 'connected' | 'stale';

/** The passthrough's view of discovery: answered from memory, never a ZooKeeper read per request. */
export interface DriverDiscovery {
  /** Live drivers for a cluster (ordered by node sequence); empty when none, or while entries are stale. */
  drivers(module: DriverModule, clusterId: string): ServerInfo[];
  state(): DiscoveryState;
}

/** The module passthroughs' view: the same in-memory cache, flat modules. */
export interface ServiceDiscovery {
  /** Live servers of a flat module (ordered by node sequence); empty when none, or while entries are stale. */
  servers(module: ServiceModule): ServerInfo[];
  state(): DiscoveryState;
}

/** The base URL a server is reached at: external address when both parts are set, as the original did. */
export function serverBaseUrl(s: ServerInfo): string {
  const host = s.external_ip && s.external_port ? `${s.external_ip}:${s.external_port}` : `${s.ip}:${s.port}`;
  return `${s.scheme === 'https' ? 'https' : 'http'}://${host}`;
}

/** The driver passthrough's name for `serverBaseUrl`. */
export const driverBaseUrl = serverBaseUrl;
