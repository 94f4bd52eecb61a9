/**
 * Every setting with the spellings accepted for it: our own key first, then the original's flat JSON
 * layout (`bke.*`, top-level listener keys) and the YAML layout of its deployment docs (`service_config`,
 * `cert_config`, `zk_config`, `metric_config`, `local_config`, `log_config`, `core_database`, `rbac`,
 * `bkiam_auth`). The first spelling present in the file wins.
 */
export const ALIASES = {
  dataDir: ['data_dir'],
  address: ['address', 'service_config.address'],
  port: ['port', 'service_config.port'],
  insecureAddress: ['insecure_address', 'service_config.insecure_address'],
  insecurePort: ['insecure_port', 'service_config.insecure_port'],
  certFile: ['server_cert_file', 'custom_server_cert_file', 'service_config.server_cert_file', 'cert_config.server_cert_file', 'tls.cert_file'],
  keyFile: ['server_key_file', 'custom_server_key_file', 'service_config.server_key_file', 'cert_config.server_key_file', 'tls.key_file'],
  caFile: ['ca_file', 'custom_ca_file', 'service_config.ca_file', 'cert_config.ca_file', 'tls.ca_file'],
  verifyClientTls: ['verify_client_tls', 'service_config.verify_client_tls', 'cert_config.verify_client_tls'],
  clientCertFile: ['client_cert_file', 'cert_config.client_cert_file'],
  clientKeyFile: ['client_key_file', 'cert_config.client_key_file'],
  allowInsecureListener: ['allow_insecure_listener'],
  autoTls: ['auto_tls.enabled'],
  autoTlsPort: ['auto_tls.port'],
  publicUrl: ['public_url', 'external_url'],
  metricPort: ['metrics.port', 'metric_config.metric_port', 'metric_port'],
  metricsOnMainListener: ['metrics.on_main_listener'],
  consoleProxyPort: ['consoleproxy_port', 'mesos_webconsole_proxy_port'],
  webconsoleAllowedNetworks: ['webconsole.allowed_networks'],
  bkiamAuth: ['bkiam_auth.auth'],
  apigwRsaFile: ['bkiam_auth.apigw_rsa_file'],
  dsn: ['database.dsn', 'core_database.dsn', 'bke.mysql_dsn', 'mysql_dsn'],
  sqlitePath: ['database.sqlite_path'],
  poolMax: ['database.pool_max'],
  encryptionKeys: ['encryption.keys'],
  encryptionPrimary: ['encryption.primary'],
  encryptionKeyFile: ['encryption.key_file'],
  bootstrapUsers: ['bootstrap_users', 'bke.bootstrap_users'],
  createDefaultAdmin: ['create_default_admin'],
  turnOnRbac: ['rbac.turn_on_rbac', 'bke.turn_on_rbac', 'turn_on_rbac'],
  turnOnAuth: ['rbac.turn_on_auth', 'bke.turn_on_auth', 'turn_on_auth'],
  turnOnConf: ['rbac.turn_on_conf', 'bke.turn_on_conf', 'turn_on_conf'],
  rbacData: ['rbac.rbac_data', 'bke.rbac_data', 'rbac_data'],
  reconcileInterval: ['rbac.reconcile_interval_seconds'],
  syncEnabled: ['rbac.sync_enabled'],
  subServer: ['rbac.subscription.url', 'bkiam_auth.bkiam_auth_sub_server', 'bkiam_auth_sub_server'],
  subAppCode: ['rbac.subscription.app_code', 'bkiam_auth.bkiam_auth_app_code', 'bkiam_auth_app_code'],
  subAppSecret: ['rbac.subscription.app_secret', 'bkiam_auth.bkiam_auth_app_secret', 'bkiam_auth_app_secret'],
  subCaFile: ['rbac.subscription.ca_file'],
  maxDepth: ['graphql.max_depth'],
  maxCost: ['graphql.max_cost'],
  maxAliases: ['graphql.max_aliases'],
  introspection: ['graphql.introspection'],
  defaultTtl: ['tokens.default_ttl_seconds'],
  maxTtl: ['tokens.max_ttl_seconds'],
  zookeeper: ['bcs_zookeeper', 'zookeeper.hosts', 'zk_config.bcs_zookeeper'],
  localIp: ['local_ip', 'local_config.local_ip'],
  zookeeperAuthUser: ['zookeeper.auth_user'],
  zookeeperAuthPassword: ['zookeeper.auth_password'],
  zookeeperSessionTimeout: ['zookeeper.session_timeout_seconds'],
  zookeeperChangePoll: ['zookeeper.change_poll_seconds'],
  mesosTimeout: ['mesos.timeout_seconds'],
  moduleConnectTimeout: ['modules.connect_timeout_seconds'],
  moduleResponseTimeout: ['modules.response_timeout_seconds'],
  upstreamServerName: ['proxy.upstream_server_name'],
  connectTimeout: ['proxy.connect_timeout_seconds'],
  responseTimeout: ['proxy.response_timeout_seconds'],
  maxInflight: ['proxy.max_inflight'],
  healthInterval: ['proxy.health_interval_seconds'],
  idleConnection: ['proxy.idle_connection_seconds'],
  idleH2Session: ['proxy.idle_h2_session_seconds'],
  logLevel: ['log_level', 'log.level'],
  logVerbosity: ['log_config.v', 'v'],
} as const satisfies Record<string, readonly string[]>;

export type Setting = keyof typeof ALIASES;

/** Environment variables override the file; each names the setting it sets. */
export const ENV_OVERRIDES: Record<string, Setting> = {
  BCS_API_DATA_DIR: 'dataDir',
  BCS_API_ADDRESS: 'address',
  BCS_API_PORT: 'port',
  BCS_API_INSECURE_ADDRESS: 'insecureAddress',
  BCS_API_INSECURE_PORT: 'insecurePort',
  BCS_API_TLS_CERT_FILE: 'certFile',
  BCS_API_TLS_KEY_FILE: 'keyFile',
  BCS_API_TLS_CA_FILE: 'caFile',
  BCS_API_ALLOW_INSECURE_LISTENER: 'allowInsecureListener',
  BCS_API_AUTO_TLS: 'autoTls',
  BCS_API_AUTO_TLS_PORT: 'autoTlsPort',
  BCS_API_PUBLIC_URL: 'publicUrl',
  BCS_API_DSN: 'dsn',
  BCS_API_SQLITE_PATH: 'sqlitePath',
  BCS_API_ENCRYPTION_KEY_FILE: 'encryptionKeyFile',
  BCS_API_ZOOKEEPER: 'zookeeper',
  BCS_API_ZOOKEEPER_AUTH_USER: 'zookeeperAuthUser',
  BCS_API_ZOOKEEPER_AUTH_PASSWORD: 'zookeeperAuthPassword',
  BCS_API_LOG_LEVEL: 'logLevel',
  BCS_API_TURN_ON_RBAC: 'turnOnRbac',
  BCS_API_RBAC_SUBSCRIPTION_APP_SECRET: 'subAppSecret',
};

/**
 * Keys (or whole sections) of the original that are accepted in a file but have no effect here. A key
 * that is also a spelling in ALIASES (e.g. `bkiam_auth.bkiam_auth_sub_server`) is used when set.
 */
export const KNOWN_UNUSED: readonly string[] = [
  'ipv6_address', 'external_ip', 'external_ipv6', 'external_port', 'bcs_zookeeper_ipv6', 'local_ipv6',
  'custom_server_key_password', 'custom_client_cert_file', 'custom_client_key_file', 'custom_client_key_password',
  'ls_address', 'ls_ca_file', 'ls_client_cert_file', 'ls_client_key_file', 'license_server_config',
  'log_dir', 'log_max_size', 'log_max_num', 'logtostderr', 'alsologtostderr', 'stderrthreshold', 'vmodule',
  'log_backtrace_at', 'log_config', 'pid_dir', 'process_config', 'edition', 'peer_token', 'bkiam_auth', 'tke',
  'bke.cluster_credentials_fixtures', 'zk_config.bcs_zookeeper_ipv6', 'local_config.local_ipv6',
];

/** Keys whose job (log files, rotation, console copies, pid files) belongs to the process manager. */
export const PROCESS_MANAGER_KEY = /(^|\.)(log_dir|log_max_size|log_max_num|logtostderr|alsologtostderr|stderrthreshold|vmodule|log_backtrace_at|pid_dir)$/;
