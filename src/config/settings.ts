import os from 'node:os';
import { z } from 'zod';
import { ALIASES, ENV_OVERRIDES, type Setting } from './keys';

export type Raw = Record<string, unknown>;

export const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')]);
export const port = z.coerce.number().int().min(0).max(65535);
export const positiveInt = z.coerce.number().int().positive();
export const nonEmpty = z.string().trim().min(1);
/** A process count, or `auto`: one per core the process may use. */
export const workerCount = z.union([z.literal('auto').transform(() => os.availableParallelism()), z.coerce.number().int().positive().max(256)]);

export function getPath(raw: Raw, dotted: string): unknown {
  let cur: unknown = raw;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Raw)[part];
  }
  return cur;
}

/** Dotted paths of every scalar, list and empty section in the file. */
export function collectLeafKeys(raw: Raw, prefix = ''): string[] {
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

const sectionOf = (key: string): string => key.slice(0, Math.max(0, key.lastIndexOf('.')));

/**
 * Reads settings from the file and the environment, records which keys were used, and collects every
 * problem with the key named as the operator wrote it (`$BCS_API_…` for environment variables).
 */
export class SettingReader {
  readonly problems: string[] = [];
  readonly usedKeys = new Set<string>();

  constructor(
    private readonly raw: Raw,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  lookup(setting: Setting): { value: unknown; key: string } | undefined {
    for (const [name, target] of Object.entries(ENV_OVERRIDES)) {
      const value = this.env[name];
      if (target === setting && value !== undefined && value !== '') return { value, key: `$${name}` };
    }
    for (const key of ALIASES[setting]) {
      const value = getPath(this.raw, key);
      if (value !== undefined && value !== null && value !== '') {
        this.usedKeys.add(key);
        return { value, key };
      }
    }
    return undefined;
  }

  get<T>(setting: Setting, schema: z.ZodType<T>): T | undefined;
  get<T>(setting: Setting, schema: z.ZodType<T>, fallback: T): T;
  get<T>(setting: Setting, schema: z.ZodType<T>, fallback?: T): T | undefined {
    const found = this.lookup(setting);
    if (!found) return fallback;
    const res = schema.safeParse(found.value);
    if (res.success) return res.data;
    for (const issue of res.error.issues) {
      const sub = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      this.problems.push(`${found.key}${sub}: ${issue.message}`);
    }
    return fallback;
  }

  /** The key a setting was read from, or its first spelling when unset. */
  keyOf(setting: Setting): string {
    return this.lookup(setting)?.key ?? ALIASES[setting][0];
  }

  /**
   * How the operator's layout spells `other`, given the key `written` came from: its environment variable
   * when `written` is one, else the spelling in the same section (`cert_config.server_cert_file` →
   * `cert_config.server_key_file`), else its first spelling.
   */
  spelledLike(written: string, other: Setting): string {
    if (written.startsWith('$')) {
      const env = Object.entries(ENV_OVERRIDES).find(([, s]) => s === other)?.[0];
      if (env) return `$${env}`;
    }
    const aliases: readonly string[] = ALIASES[other];
    return aliases.find((a) => sectionOf(a) === sectionOf(written)) ?? aliases[0]!;
  }
}

/** True when `key` is (under) one of the spellings of any setting. */
export function isAliasKey(key: string): boolean {
  return Object.values(ALIASES).some((list) => (list as readonly string[]).some((a) => key === a || key.startsWith(`${a}.`) || key.startsWith(`${a}[`)));
}
