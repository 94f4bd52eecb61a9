import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { decideAutoTls } from './auto-tls';
import type { BootstrapUser, Config, DatabaseConfig, RbacGrantFromConfig } from './config';
import { parseMysqlDsn } from './dsn';

type Raw = Record<string, unknown>;

/**
 * Every setting with the spellings accepted for it: our own key first, then the original's flat JSON
 * layout (`bke.*`, top-level listener keys) and the YAML layout of its docs (`service_config`,
 * `core_database`, `rbac`). The first spelling present in the file wins.
 */
const ALIASES = {
  dataDir: ['data_dir'],
  address: ['address', 'service_config.address'],
  port: ['port', 'service_config.port'],
  insecureAddress: ['insecure_address', 'service_config.insecure_address'],
  insecurePort: ['insecure_port', 'service_config.insecure_port'],
  certFile: ['server_cert_file', 'custom_server_cert_file', 'service_config.server_cert_file', 'tls.cert_file'],
  keyFile: ['server_key_file', 'custom_server_key_file', 'service_config.server_key_file', 'tls.key_file'],
  caFile: ['ca_file', 'custom_ca_file', 'service_config.ca_file', 'tls.ca_file'],
  verifyClientTls: ['verify_client_tls', 'service_config.verify_client_tls'],
  allowInsecureListener: ['allow_insecure_listener'],
  autoTls: ['auto_tls.enabled'],
  autoTlsPort: ['auto_tls.port'],
  publicUrl: ['public_url', 'external_url'],
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
  zookeeper: ['bcs_zookeeper', 'zookeeper.hosts'],
  localIp: ['local_ip'],
  zookeeperAuthUser: ['zookeeper.auth_user'],
  zookeeperAuthPassword: ['zookeeper.auth_password'],
  zookeeperSessionTimeout: ['zookeeper.session_timeout_seconds'],
  mesosTimeout: ['mesos.timeout_seconds'],
  upstreamServerName: ['proxy.upstream_server_name'],
  connectTimeout: ['proxy.connect_timeout_seconds'],
  responseTimeout: ['proxy.response_timeout_seconds'],
  maxInflight: ['proxy.max_inflight'],
  healthInterval: ['proxy.health_interval_seconds'],
  logLevel: ['log_level', 'log.level'],
} as const satisfies Record<string, readonly string[]>;

type Setting = keyof typeof ALIASES;

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

/** Keys of the original that are accepted in a file but have no effect here. */
const KNOWN_UNUSED = new Set([
  'ipv6_address', 'external_ip', 'external_ipv6', 'external_port', 'metric_port', 'bcs_zookeeper_ipv6',
  'local_ipv6', 'client_cert_file', 'client_key_file', 'custom_server_key_password', 'custom_client_cert_file',
  'custom_client_key_file', 'custom_client_key_password', 'ls_address', 'ls_ca_file', 'ls_client_cert_file',
  'ls_client_key_file', 'log_dir', 'log_max_size', 'log_max_num', 'logtostderr', 'alsologtostderr', 'v',
  'stderrthreshold', 'vmodule', 'log_backtrace_at', 'pid_dir', 'edition', 'mesos_webconsole_proxy_port',
  'peer_token', 'bkiam_auth', 'tke', 'bke.cluster_credentials_fixtures',
]);

function getPath(raw: Raw, dotted: string): unknown {
  let cur: unknown = raw;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Raw)[part];
  }
  return cur;
}

function collectLeafKeys(raw: Raw, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const nested = collectLeafKeys(v as Raw, key);
      out.push(...(nested.length ? nested : [key]));
    } else out.push(key);
  }
  return out;
}

export function readConfigFile(file: string): Raw {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`]);
  }
  try {
    const parsed: unknown = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError([`config file ${file} must hold a mapping of keys, not ${Array.isArray(parsed) ? 'a list' : typeof parsed}`]);
    }
    return parsed as Raw;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([`config file ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML/JSON'}: ${(err as Error).message}`]);
  }
}

const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')]);
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonEmpty = z.string().trim().min(1);
const bootstrapUser = z.object({
  name: nonEmpty,
  is_super_user: z.boolean().default(false),
  groups: z.array(nonEmpty).default([]),
  tokens: z.array(nonEmpty).default([]),
});
const rbacItem = z.object({ user_name: nonEmpty, cluster_id: nonEmpty, roles: z.array(nonEmpty) });
const keyItem = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 of [A-Za-z0-9_-]'), key: nonEmpty });
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Builds the configuration from an optional file plus environment overrides. Every problem is collected
 * and thrown together in one ConfigError whose lines name the key as the operator wrote it.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const raw = opts.file ? readConfigFile(opts.file) : {};
  const problems: string[] = [];
  const usedKeys = new Set<string>();

  const lookup = (setting: Setting): { value: unknown; key: string } | undefined => {
    for (const [name, target] of Object.entries(ENV_OVERRIDES)) {
      if (target === setting && env[name] !== undefined && env[name] !== '') return { value: env[name], key: `$${name}` };
    }
    for (const key of ALIASES[setting]) {
      const value = getPath(raw, key);
      if (value !== undefined && value !== null && value !== '') {
        usedKeys.add(key);
        return { value, key };
      }
    }
    return undefined;
  };
  function get<T>(setting: Setting, schema: z.ZodType<T>): T | undefined;
  function get<T>(setting: Setting, schema: z.ZodType<T>, fallback: T): T;
  function get<T>(setting: Setting, schema: z.ZodType<T>, fallback?: T): T | undefined {
    const found = lookup(setting);
    if (!found) return fallback;
    const res = schema.safeParse(found.value);
    if (res.success) return res.data;
    for (const issue of res.error.issues) {
      const sub = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      problems.push(`${found.key}${sub}: ${issue.message}`);
    }
    return fallback;
  }

  const dataDir = path.resolve(cwd, get('dataDir', nonEmpty, './data'));

  // Listeners: TLS when a certificate and key are configured; a plain listener on insecure_* when set,
  // and on address:port only when TLS is off (the zero-configuration developer default).
  const address = get('address', nonEmpty, '127.0.0.1');
  const mainPort = get('port', port, 8080);
  const certFile = get('certFile', nonEmpty);
  const keyFile = get('keyFile', nonEmpty);
  const caFile = get('caFile', nonEmpty);
  if (Boolean(certFile) !== Boolean(keyFile)) {
    problems.push(`server_cert_file and server_key_file must be set together (only ${certFile ? 'server_cert_file' : 'server_key_file'} is set)`);
  }
  for (const [key, file] of [['server_cert_file', certFile], ['server_key_file', keyFile], ['ca_file', caFile]] as const) {
    if (file && !fs.existsSync(path.resolve(cwd, file))) problems.push(`${key}: file ${file} does not exist`);
  }
  const verifyClientTls = get('verifyClientTls', bool, false);
  if (verifyClientTls && !caFile) problems.push('verify_client_tls: needs ca_file to verify client certificates against');
  const tls = certFile && keyFile
    ? { address, port: mainPort, certFile: path.resolve(cwd, certFile), keyFile: path.resolve(cwd, keyFile), caFile: caFile && path.resolve(cwd, caFile), verifyClientTls }
    : undefined;
  const insecurePort = get('insecurePort', port);
  const insecureAddress = get('insecureAddress', nonEmpty, tls ? '127.0.0.1' : address);
  const plain = insecurePort !== undefined && insecurePort !== 0
    ? { address: insecureAddress, port: insecurePort }
    : tls ? undefined : { address, port: mainPort };
  const allowInsecureListener = get('allowInsecureListener', bool, false);
  if (plain && !LOOPBACK.test(plain.address) && !allowInsecureListener) {
    problems.push(
      `${tls ? 'insecure_address' : 'address'}: a plain-HTTP listener on ${plain.address} would carry tokens in clear text; ` +
        'configure server_cert_file/server_key_file, bind it to 127.0.0.1, or set allow_insecure_listener: true',
    );
  }

  const publicUrl = get('publicUrl', z.string().url());
  const { autoTls, problem: autoTlsProblem } = decideAutoTls({
    enabled: get('autoTls', bool, true), port: get('autoTlsPort', port), dataDir, publicUrl,
    tlsConfigured: Boolean(certFile || keyFile), insecureConfigured: insecurePort !== undefined, plain,
  });
  if (autoTlsProblem) problems.push(autoTlsProblem);

  const dsn = get('dsn', nonEmpty);
  let database: DatabaseConfig;
  if (dsn) {
    const target = parseMysqlDsn(dsn);
    if (typeof target === 'string') {
      problems.push(`${lookup('dsn')?.key ?? 'database.dsn'}: ${target}`);
      database = { dialect: 'sqlite', path: '' };
    } else database = { dialect: 'mysql', target, poolMax: get('poolMax', positiveInt, 20) };
  } else {
    const sqlitePath = get('sqlitePath', nonEmpty);
    database = { dialect: 'sqlite', path: sqlitePath === ':memory:' ? ':memory:' : path.resolve(dataDir, sqlitePath ?? 'bcs-api.sqlite') };
  }

  let encryption: Config['encryption'];
  const keys = get('encryptionKeys', z.array(keyItem).min(1));
  if (keys) {
    const decoded = keys.map((k, i) => {
      const key = Buffer.from(k.key, 'base64');
      if (key.length !== 32) problems.push(`encryption.keys[${i}].key: must be 32 bytes encoded as base64 (got ${key.length} bytes)`);
      return { id: k.id, key };
    });
    if (new Set(decoded.map((k) => k.id)).size !== decoded.length) problems.push('encryption.keys: key ids must be unique');
    const primary = get('encryptionPrimary', nonEmpty, decoded[0]!.id);
    if (!decoded.some((k) => k.id === primary)) problems.push(`encryption.primary: no key with id "${primary}" in encryption.keys`);
    encryption = { keys: decoded, primary };
  } else {
    encryption = { keyFile: path.resolve(cwd, get('encryptionKeyFile', nonEmpty, path.join(dataDir, 'keyring.json'))) };
  }

  const bootstrapUsers: BootstrapUser[] = (get('bootstrapUsers', z.array(bootstrapUser), []) ?? []).map((u) => ({
    name: u.name,
    isSuperUser: u.is_super_user,
    groups: u.groups,
    tokens: u.tokens,
  }));
  const rbacData: RbacGrantFromConfig[] = get('rbacData', z.array(rbacItem), []).map((r) => ({
    userName: r.user_name,
    clusterId: r.cluster_id,
    roles: r.roles,
  }));

  const turnOnAuth = get('turnOnAuth', bool, false);
  const subUrl = get('subServer', nonEmpty);
  const subAppCode = get('subAppCode', nonEmpty);
  const subAppSecret = get('subAppSecret', nonEmpty);
  const subCaFile = get('subCaFile', nonEmpty);
  if (subCaFile && !fs.existsSync(path.resolve(cwd, subCaFile))) problems.push(`rbac.subscription.ca_file: file ${subCaFile} does not exist`);
  if (turnOnAuth) {
    const missing = [
      ...(subUrl ? [] : ['rbac.subscription.url (or bkiam_auth.bkiam_auth_sub_server)']),
      ...(subAppCode ? [] : ['rbac.subscription.app_code (or bkiam_auth.bkiam_auth_app_code)']),
      ...(subAppSecret ? [] : ['rbac.subscription.app_secret (or bkiam_auth.bkiam_auth_app_secret)']),
    ];
    if (missing.length) problems.push(`turn_on_auth: the permission subscription needs ${missing.join(', ')}`);
  }
  const subscription = subUrl && subAppCode && subAppSecret
    ? { url: subUrl, appCode: subAppCode, appSecret: subAppSecret, caFile: subCaFile && path.resolve(cwd, subCaFile) }
    : undefined;

  const defaultTtlSeconds = get('defaultTtl', positiveInt, 30 * 24 * 3600);
  const maxTtlSeconds = get('maxTtl', positiveInt, 365 * 24 * 3600);
  if (defaultTtlSeconds > maxTtlSeconds) problems.push('tokens.default_ttl_seconds: must not exceed tokens.max_ttl_seconds');

  const zkUser = get('zookeeperAuthUser', nonEmpty);
  const zkPassword = get('zookeeperAuthPassword', nonEmpty);
  if (Boolean(zkUser) !== Boolean(zkPassword)) {
    problems.push(`zookeeper.auth_user and zookeeper.auth_password must be set together (only ${zkUser ? 'zookeeper.auth_user' : 'zookeeper.auth_password'} is set)`);
  }

  const config: Config = {
    dataDir,
    tls,
    plain,
    autoTls,
    allowInsecureListener,
    publicUrl,
    database,
    encryption,
    bootstrapUsers,
    createDefaultAdmin: get('createDefaultAdmin', bool, true),
    rbac: {
      turnOnRbac: get('turnOnRbac', bool, true),
      turnOnAuth,
      turnOnConf: get('turnOnConf', bool, false),
      rbacData,
      reconcileIntervalSeconds: get('reconcileInterval', positiveInt, 300),
      syncEnabled: get('syncEnabled', bool, true),
      subscription,
    },
    graphql: {
      maxDepth: get('maxDepth', positiveInt, 10),
      maxCost: get('maxCost', positiveInt, 5000),
      maxAliases: get('maxAliases', positiveInt, 15),
      introspection: get('introspection', bool, true),
    },
    tokens: { defaultTtlSeconds, maxTtlSeconds },
    proxy: {
      upstreamServerName: get('upstreamServerName', nonEmpty, 'kubernetes'),
      connectTimeoutSeconds: get('connectTimeout', positiveInt, 5),
      responseTimeoutSeconds: get('responseTimeout', positiveInt, 60),
      maxInflight: get('maxInflight', positiveInt, 4096),
      healthIntervalSeconds: get('healthInterval', positiveInt, 5),
    },
    zookeeper: get('zookeeper', nonEmpty),
    localIp: get('localIp', nonEmpty),
    zookeeperClient: {
      sessionTimeoutSeconds: get('zookeeperSessionTimeout', positiveInt, 10),
      auth: zkUser && zkPassword ? { user: zkUser, password: zkPassword } : undefined,
    },
    mesos: { timeoutSeconds: get('mesosTimeout', positiveInt, 30) },
    logLevel: get('logLevel', logLevel, 'info'),
    ignoredKeys: [],
  };
  if (problems.length) throw new ConfigError(problems);

  const ignoredKeys = collectLeafKeys(raw).filter(
    (k) => !usedKeys.has(k) && ![...KNOWN_UNUSED].some((u) => k === u || k.startsWith(`${u}.`)) && !isAliasKey(k),
  );
  return { ...config, ignoredKeys };
}

function isAliasKey(key: string): boolean {
  return Object.values(ALIASES).some((list) => (list as readonly string[]).some((a) => key === a || key.startsWith(`${a}.`) || key.startsWith(`${a}[`)));
}
