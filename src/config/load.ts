import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { readBootstrapUsers, readRbac } from './access';
import { decideAutoTls } from './auto-tls';
import type { Config } from './config';
import { readBcsapiSettings } from './bcsapi';
import { readListeners } from './listeners';
import { readLogLevel } from './logging';
import { readPeering } from './peering';
import { readConfigFile, type ConfigFile } from './read-file';
import { bool, nonEmpty, port, positiveInt, SettingReader, workerCount } from './settings';
import { readDatabase, readEncryption } from './storage';
import { configWarnings, leftoverKeys } from './warnings';

export { ENV_OVERRIDES } from './keys';
export { readConfigFile } from './read-file';

/**
 * Builds the configuration from an optional file plus environment overrides. Every problem is collected
 * and thrown together in one ConfigError whose lines name the key as the operator wrote it.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file: ConfigFile = opts.file ? readConfigFile(opts.file) : { raw: {}, duplicates: [] };
  const s = new SettingReader(file.raw, env);

  const dataDir = path.resolve(cwd, s.get('dataDir', nonEmpty, './data'));
  const listeners = readListeners(s, cwd);
  const defaultTtlSeconds = s.get('defaultTtl', positiveInt, 30 * 24 * 3600);
  const maxTtlSeconds = s.get('maxTtl', positiveInt, 365 * 24 * 3600);
  if (defaultTtlSeconds > maxTtlSeconds) s.problems.push('tokens.default_ttl_seconds: must not exceed tokens.max_ttl_seconds');

  const zkUser = s.get('zookeeperAuthUser', nonEmpty);
  const zkPassword = s.get('zookeeperAuthPassword', nonEmpty);
  if (Boolean(zkUser) !== Boolean(zkPassword)) {
    s.problems.push(`zookeeper.auth_user and zookeeper.auth_password must be set together (only ${s.keyOf(zkUser ? 'zookeeperAuthUser' : 'zookeeperAuthPassword')} is set)`);
  }

  const publicUrl = s.get('publicUrl', z.string().url());
  const autoTls = decideAutoTls({
    enabled: s.get('autoTls', bool, true),
    port: s.get('autoTlsPort', port),
    dataDir,
    publicUrl,
    tlsConfigured: Boolean(listeners.tls || s.lookup('certFile') || s.lookup('keyFile')),
    insecureConfigured: s.lookup('insecurePort') !== undefined,
    plain: listeners.plain,
  });
  if (autoTls.problem) s.problems.push(autoTls.problem);
  const { inert, ...bcsapi } = readBcsapiSettings(s, cwd);
  const zookeeper = s.get('zookeeper', nonEmpty);
  const peering = readPeering(s, cwd, { zookeeper, autoTlsDir: autoTls.autoTls?.dir, tlsCaFile: listeners.tls?.caFile });

  const config: Omit<Config, 'ignoredKeys' | 'unusedKeys' | 'warnings'> = {
    dataDir,
    ...listeners,
    autoTls: autoTls.autoTls,
    publicUrl,
    consoleProxyPort: s.get('consoleProxyPort', port),
    ...bcsapi,
    database: readDatabase(s, dataDir),
    encryption: readEncryption(s, dataDir, cwd),
    bootstrapUsers: readBootstrapUsers(s),
    createDefaultAdmin: s.get('createDefaultAdmin', bool, true),
    rbac: readRbac(s, cwd),
    graphql: {
      maxDepth: s.get('maxDepth', positiveInt, 10),
      maxCost: s.get('maxCost', positiveInt, 5000),
      maxAliases: s.get('maxAliases', positiveInt, 15),
      introspection: s.get('introspection', bool, true),
    },
    tokens: { defaultTtlSeconds, maxTtlSeconds },
    proxy: {
      upstreamServerName: s.get('upstreamServerName', nonEmpty, 'kubernetes'),
      connectTimeoutSeconds: s.get('connectTimeout', positiveInt, 5),
      responseTimeoutSeconds: s.get('responseTimeout', positiveInt, 60),
      maxInflight: s.get('maxInflight', positiveInt, 4096),
      healthIntervalSeconds: s.get('healthInterval', positiveInt, 5),
      idleConnectionSeconds: s.get('idleConnection', positiveInt, 30),
      idleH2SessionSeconds: s.get('idleH2Session', positiveInt, 120),
      workers: s.get('proxyWorkers', workerCount, 1),
    },
    zookeeper,
    localIp: s.get('localIp', nonEmpty),
    zookeeperClient: {
      sessionTimeoutSeconds: s.get('zookeeperSessionTimeout', positiveInt, 10),
      changePollSeconds: s.get('zookeeperChangePoll', positiveInt, 10),
      auth: zkUser && zkPassword ? { user: zkUser, password: zkPassword } : undefined,
    },
    peering: peering.peering,
    mesos: { timeoutSeconds: s.get('mesosTimeout', positiveInt, 30) },
    modules: {
      connectTimeoutSeconds: s.get('moduleConnectTimeout', positiveInt, 5),
      responseTimeoutSeconds: s.get('moduleResponseTimeout', positiveInt, 30),
    },
    logLevel: readLogLevel(s),
  };
  if (s.problems.length) throw new ConfigError(s.problems);

  const { unusedKeys, ignoredKeys } = leftoverKeys(file.raw, s.usedKeys, inert);
  return { ...config, ignoredKeys, unusedKeys, warnings: [...configWarnings(opts.file, file.duplicates, unusedKeys, ignoredKeys), ...(peering.warning ? [peering.warning] : [])] };
}
