import { parse } from 'yaml';

/**
 * A compose file as `docker compose config` would see it: YAML merge keys (`<<: *anchor`) applied and
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$VAR` and `$$`
 * interpolated from the given environment. A `$` followed by anything else is an error, as in compose.
 */

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  init?: boolean;
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  healthcheck?: { test: string[]; interval?: string; timeout?: string; retries?: number; start_period?: string };
  depends_on?: Record<string, { condition: string }>;
  hostname?: string;
  restart?: string;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export class MissingVariable extends Error {}

const TOKEN = /\$(?:(\$)|\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_]\w*)|)/g;

export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(TOKEN, (whole, dollar: string | undefined, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (dollar) return '$';
    const name = braced ?? bare;
    if (!name) throw new Error(`invalid interpolation at "${text.slice(text.indexOf(whole), text.indexOf(whole) + 20)}"`);
    const value = env[name];
    const unset = op?.startsWith(':') ? !value : value === undefined;
    if (op?.endsWith('?') && unset) throw new MissingVariable(`required variable ${name} is missing a value: ${arg}`);
    if (op?.endsWith('-') && unset) return interpolate(arg ?? '', env);
    return value ?? '';
  });
}

function interpolateAll(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, env));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, env)]));
  return value;
}

/** The raw document (merge keys applied, nothing interpolated) and the document as compose runs it. */
export function loadCompose(text: string, env: Record<string, string | undefined>): { raw: ComposeFile; resolved: ComposeFile } {
  const raw = parse(text, { merge: true, uniqueKeys: true }) as ComposeFile;
  return { raw, resolved: interpolateAll(raw, env) as ComposeFile };
}
