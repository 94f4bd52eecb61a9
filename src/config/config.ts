import type { AutoTlsConfig } from './auto-tls';
import type { MysqlTarget } from './dsn';
import type { PeeringConfig } from './peering';

export type DatabaseConfig =
  | { dialect: 'sqlite'; path: string }
  | { dialect: 'mysql'; target: MysqlTarget; poolMax: number };

export interface BootstrapUser {
  name: string;
  isSuperUser: boolean;
  groups: string[];
  /** Plain-text tokens (hashed on import) or `sha256:<hex>` digests. */
  tokens: string[];
}

export interface RbacGrantFromConfig {
  userName: string;
  clusterId: string;
  roles: string[];
}

export interface ListenerConfig {
  address: string;
  port: number;
}

export interface ConfigWarning {
  message: string;
  /** The key paths the message is about. */
  keys: string[];
}

/** The validated, normalised configuration. Built once at start-up; never mutated. */
export interface Config {
  readonly dataDir: string;
  readonly tls?: { certFile: string; keyFile: string; caFile?: string; verifyClientTls: boolean } & ListenerConfig;
  readonly plain?: ListenerConfig;
  /** First run (no TLS, no insecure listener configured): a TLS listener with a generated CA; see auto-tls.ts. */
  readonly autoTls?: AutoTlsConfig;
  readonly allowInsecureListener: boolean;
  /**
   * Prometheus `/metrics`: on a listener of its own (`metric_config.metric_port`, bound on `address` as
   * the original did) and, unless `metrics.on_main_listener: false`, on the main listeners too.
   */
  readonly metrics: { listener?: ListenerConfig; onMainListener: boolean };
  /** Client certificate and key for https upstreams (`cert_config.client_cert_file`/`client_key_file`). */
  readonly clientTls?: { certFile: string; keyFile: string };
  /** CA that https upstreams (drivers, modules) are verified against (`ca_file`); the system CAs when unset. */
  readonly upstreamCaFile?: string;
  /** Port of the Mesos web console proxy (`consoleproxy_port` / `mesos_webconsole_proxy_port`). */
  readonly consoleProxyPort?: number;
  /** The Mesos web console: which `host_ip` values may be dialled (CIDRs; undefined: the private ranges). */
  readonly webconsole: { allowedNetworks?: string[] };
  /**
   * The BlueKing API gateway's public key (`bkiam_auth.apigw_rsa_file`, PEM, read at start): `X-Bkapi-JWT`
   * is accepted on `/bcsapi/*` only when it is set.
   */
  readonly apigwJwtKey?: { file: string; pem: string };
  /** URL this gateway is reached at, written into generated kubeconfigs. */
  readonly publicUrl?: string;
  readonly database: DatabaseConfig;
  readonly encryption: { keys: { id: string; key: Buffer }[]; primary: string } | { keyFile: string };
  readonly bootstrapUsers: BootstrapUser[];
  readonly createDefaultAdmin: boolean;
  readonly rbac: {
    turnOnRbac: boolean;
    turnOnAuth: boolean;
    turnOnConf: boolean;
    rbacData: RbacGrantFromConfig[];
    /** Full RBAC reconcile of every cluster, repairing drift. */
    reconcileIntervalSeconds: number;
    /** Whether this process pushes RBAC to clusters (grants are still stored and served when off). */
    syncEnabled: boolean;
    /** The external permission service (`turn_on_auth`); the secret is never logged. */
    subscription?: { url: string; appCode: string; appSecret: string; caFile?: string };
  };
  readonly graphql: { maxDepth: number; maxCost: number; maxAliases: number; introspection: boolean };
  readonly tokens: { defaultTtlSeconds: number; maxTtlSeconds: number };
  readonly proxy: {
    /** Name verified in cluster apiserver certificates (the original's `kubernetes`). */
    upstreamServerName: string;
    connectTimeoutSeconds: number;
    /** Deadline for response headers on requests that are not watches, logs -f or upgrades. */
    responseTimeoutSeconds: number;
    /** Proxied requests in flight at once (watches and upgrades included); beyond it 429. */
    maxInflight: number;
    healthIntervalSeconds: number;
    /**
     * An idle keep-alive HTTP/1.1 connection to an apiserver is closed after this long. Through an agent
     * tunnel each one also holds a virtual connection and a socket in the agent.
     */
    idleConnectionSeconds: number;
    /** An HTTP/2 session to an apiserver with no stream open is closed after this long. */
    idleH2SessionSeconds: number;
    /**
     * Processes serving the listeners (`proxy.workers`, a number or `auto` for the machine's cores): above
     * 1 the process forks that many workers sharing the ports (node:cluster), each a whole gateway with
     * its own caches following the same change feed.
     */
    workers: number;
  };
  readonly zookeeper?: string;
  /** Address advertised in ZooKeeper (`local_ip`); the bound or first external address when unset. */
  readonly localIp?: string;
  /**
   * ZooKeeper client settings (used only when `zookeeper` is set): session timeout, digest ACL credentials,
   * and how often the change feed is still read while ZooKeeper change signals arrive (a safety net; without
   * a working signal it is read every 500 ms).
   */
  readonly zookeeperClient: { sessionTimeoutSeconds: number; changePollSeconds?: number; auth?: { user: string; password: string } };
  /** Replicas relaying agent and driver tunnels to each other (needs ZooKeeper and a shared secret). */
  readonly peering?: PeeringConfig;
  /** Mesos/k8s-driver passthrough: deadline for a driver's answer. */
  readonly mesos: { timeoutSeconds: number };
  /**
   * `/bcsapi/v4` module passthroughs (storage, metric, netservice, clusterkeeper, detection): deadlines
   * for the TCP/TLS connect and for the response headers (watches are exempt from the latter).
   */
  readonly modules: { connectTimeoutSeconds: number; responseTimeoutSeconds: number };
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Keys found in the file that no layout knows (typos, or keys of another program). */
  readonly ignoredKeys: string[];
  /** Keys of the original found in the file that are accepted but have no effect here. */
  readonly unusedKeys: string[];
  /** Warnings to log once at start-up, one line each (duplicate keys, unused keys, unknown keys). */
  readonly warnings: ConfigWarning[];
}
