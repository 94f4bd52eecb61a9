/**
 * A small path router shared by the /rest and user-manager surfaces. Patterns are `/`-separated with
 * `:name` segments; a trailing slash is ignored on both sides (the original registers some routes with
 * one, e.g. `POST /rest/users/`, and clients call them both ways). Literal segments win over parameters.
 */
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

export interface Route<H> {
  method: Method;
  pattern: string;
  handler: H;
}

export type Match<H> =
  | { kind: 'found'; route: Route<H>; params: Record<string, string> }
  | { kind: 'method'; allow: Method[] }
  | { kind: 'none' }
  | { kind: 'bad-path' };

function segments(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/** Scores a pattern against a path: undefined when it does not match; higher means more literal. */
function matchPattern(pattern: string[], path: string[]): { params: Record<string, string>; literals: number } | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  let literals = 0;
  for (let i = 0; i < pattern.length; i += 1) {
    const p = pattern[i]!;
    const s = path[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p === s) literals += 1;
    else return undefined;
  }
  return { params, literals };
}

export class Router<H> {
  private readonly routes: { route: Route<H>; parts: string[] }[] = [];

  add(method: Method, pattern: string, handler: H): this {
    this.routes.push({ route: { method, pattern, handler }, parts: segments(pattern) });
    return this;
  }

  /** `path` is relative to the surface's prefix and still percent-encoded. */
  match(method: string, path: string): Match<H> {
    let parts: string[];
    try {
      parts = segments(path).map((s) => decodeURIComponent(s));
    } catch {
      return { kind: 'bad-path' };
    }
    let best: { route: Route<H>; params: Record<string, string>; literals: number } | undefined;
    const allow = new Set<Method>();
    for (const { route, parts: pattern } of this.routes) {
      const m = matchPattern(pattern, parts);
      if (!m) continue;
      if (route.method !== method) {
        allow.add(route.method);
        continue;
      }
      if (!best || m.literals > best.literals) best = { route, ...m };
    }
    if (best) return { kind: 'found', route: best.route, params: best.params };
    if (allow.size) return { kind: 'method', allow: [...allow] };
    return { kind: 'none' };
  }
}
