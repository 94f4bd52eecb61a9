import type { Logger } from '../log';
import type { Config, ConfigWarning } from './config';
import { KNOWN_UNUSED, PROCESS_MANAGER_KEY } from './keys';
import type { DuplicateKey } from './read-file';
import { collectLeafKeys, isAliasKey, type Raw } from './settings';

const under = (key: string, prefix: string): boolean => key === prefix || key.startsWith(`${prefix}.`);

/**
 * Sorts the file's keys that no setting read: the original's (accepted, no effect) and unknown ones.
 * `inert` keys were read but another key switched them off: they count as the original's unused keys.
 */
export function leftoverKeys(raw: Raw, usedKeys: Set<string>, inert: readonly string[] = []): { unusedKeys: string[]; ignoredKeys: string[] } {
  const unusedKeys: string[] = [];
  const ignoredKeys: string[] = [];
  for (const key of collectLeafKeys(raw)) {
    // A spelling of a setting that is used, blank, or shadowed by another spelling or an environment variable.
    if (!inert.includes(key) && (usedKeys.has(key) || isAliasKey(key))) continue;
    if (KNOWN_UNUSED.some((u) => under(key, u))) unusedKeys.push(key);
    else ignoredKeys.push(key);
  }
  return { unusedKeys, ignoredKeys };
}

const listed = (n: number[]): string => (n.length === 2 ? `${n[0]} and ${n[1]}` : `${n.slice(0, -1).join(', ')} and ${n.at(-1)}`);

/** One line per duplicated key, one for the original's unused keys, one for unknown keys. */
export function configWarnings(file: string | undefined, duplicates: DuplicateKey[], unusedKeys: string[], ignoredKeys: string[]): ConfigWarning[] {
  const warnings: ConfigWarning[] = duplicates.map((d) => ({
    message: `${file ?? 'config file'}: key ${d.path} is written ${d.lines.length === 2 ? 'twice' : `${d.lines.length} times`} (lines ${listed(d.lines)}); the last one (line ${d.lines.at(-1)}) is used`,
    keys: [d.path],
  }));
  if (unusedKeys.length) {
    const processManager = unusedKeys.some((k) => PROCESS_MANAGER_KEY.test(k))
      ? '; log files, their rotation and pid files are left to the process manager: every log line goes to stdout (level from log_config.v or log_level)'
      : '';
    warnings.push({ message: `configuration keys of the original bcs-api accepted without effect: ${unusedKeys.join(', ')}${processManager}`, keys: unusedKeys });
  }
  if (ignoredKeys.length) {
    warnings.push({ message: `configuration keys not known to this gateway (ignored): ${ignoredKeys.join(', ')}`, keys: ignoredKeys });
  }
  return warnings;
}

/** Logs the configuration's warnings, each once, on its own line. */
export function logConfigWarnings(config: Pick<Config, 'warnings'>, logger: Logger): void {
  for (const w of config.warnings) logger.warn({ keys: w.keys }, w.message);
}
