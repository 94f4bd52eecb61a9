import type { IncomingMessage } from 'node:http';

export interface FaultMatch {
  method?: string;
  /** Exact pathname, or a RegExp tested against path+query. */
  path?: string | RegExp;
  /** true: any upgrade; 'websocket' / 'spdy': that kind only; false: plain requests only. */
  upgrade?: boolean | 'websocket' | 'spdy';
}

export type FaultAction =
  /** Answer with this status, headers and body instead of serving (for an upgrade: instead of 101). */
  | { kind: 'respond'; code: number; headers?: Record<string, string>; body?: string | object; keepAlive?: boolean }
  /** Wait, then serve normally (or apply the next matching fault). */
  | { kind: 'delay'; ms: number }
  /** Send headers promising a body, part of it, then destroy the connection. */
  | { kind: 'reset'; partialBody?: string };

export interface Fault {
  match: FaultMatch;
  action: FaultAction;
  /** How many requests it applies to; unlimited by default. */
  times?: number;
}

export type UpgradeKind = 'websocket' | 'spdy' | 'other' | undefined;

export function upgradeKind(req: IncomingMessage): UpgradeKind {
  const u = req.headers.upgrade?.toLowerCase();
  if (!u) return undefined;
  if (u === 'websocket') return 'websocket';
  if (u.startsWith('spdy/')) return 'spdy';
  return 'other';
}

function matchesFault(f: Fault, req: IncomingMessage, url: URL): boolean {
  const m = f.match;
  if (m.method && m.method.toUpperCase() !== req.method) return false;
  if (typeof m.path === 'string' && m.path !== url.pathname) return false;
  if (m.path instanceof RegExp && !m.path.test(url.pathname + url.search)) return false;
  const kind = upgradeKind(req);
  if (m.upgrade === true && !kind) return false;
  if (m.upgrade === false && kind) return false;
  if (typeof m.upgrade === 'string' && m.upgrade !== kind) return false;
  return true;
}

/** Faults a test switches on; each request takes the matching ones in the order they were added. */
export class FaultSet {
  private readonly faults: Fault[] = [];

  add(fault: Fault): () => void {
    const f = { ...fault };
    this.faults.push(f);
    return () => this.remove(f);
  }

  clear(): void {
    this.faults.length = 0;
  }

  /** The next fault for this request, consuming one of its `times`. */
  take(req: IncomingMessage, url: URL, skip: Set<Fault>): Fault | undefined {
    const f = this.faults.find((x) => !skip.has(x) && matchesFault(x, req, url));
    if (!f) return undefined;
    if (f.times !== undefined && --f.times <= 0) this.remove(f);
    skip.add(f);
    return f;
  }

  private remove(f: Fault): void {
    const i = this.faults.indexOf(f);
    if (i >= 0) this.faults.splice(i, 1);
  }
}
