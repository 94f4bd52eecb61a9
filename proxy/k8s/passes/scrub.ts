import type { IncomingHttpHeaders } from 'node:http';

/** An identity the client asked for with its own Impersonate-* headers (kubectl --as / --as-group). */
export interface RequestedImpersonation {
  user?: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** Header names are compared after lower-casing and mapping `_` to `-`, as some front proxies do. */
const canonical = (name: string): string => {
  const lower = name.toLowerCase();
  return lower.includes('_') ? lower.replace(/_/g, '-') : lower;
};

const IDENTITY_PREFIXES = ['impersonate-', 'x-remote-', 'x-forwarded-'];
const IDENTITY_NAMES = new Set(['authorization', 'forwarded', 'x-real-ip', 'cookie', 'audit-id', 'proxy-authorization']);

function isClientIdentityHeader(name: string): boolean {
  const n = canonical(name);
  return IDENTITY_NAMES.has(n) || IDENTITY_PREFIXES.some((p) => n.startsWith(p));
}

/**
 * Pass 4: removes every client header that could assert an identity or a source upstream — all
 * `Impersonate-*` (User, Group, Uid, Extra-*; any case, every duplicate), `Authorization`, `X-Remote-*`,
 * `X-Forwarded-*`, `Forwarded`, `X-Real-Ip`, `Cookie`, `Audit-ID`. Returns the impersonation the client
 * requested, read from the raw header lines so duplicates are kept apart, so policy can decide on it.
 */
export function scrubClientIdentity(headers: IncomingHttpHeaders, rawHeaders: string[]): RequestedImpersonation | undefined {
  const requested: RequestedImpersonation = { groups: [], extra: {} };
  let any = false;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = canonical(rawHeaders[i]!);
    const value = rawHeaders[i + 1]!.trim();
    if (!name.startsWith('impersonate-')) continue;
    any = true;
    if (name === 'impersonate-user') requested.user = value;
    else if (name === 'impersonate-uid') requested.uid = value;
    else if (name === 'impersonate-group') requested.groups.push(value);
    else if (name.startsWith('impersonate-extra-')) (requested.extra[name.slice('impersonate-extra-'.length)] ??= []).push(value);
    else requested.user ??= ''; // an unknown Impersonate-* header still counts as an attempt
  }
  for (const name of Object.keys(headers)) if (isClientIdentityHeader(name)) delete headers[name];
  return any ? requested : undefined;
}

/** True when any raw header line still asserts identity; used as a fail-closed check before sending. */
export function hasClientIdentityHeaders(headers: IncomingHttpHeaders): boolean {
  return Object.keys(headers).some(isClientIdentityHeader);
}
