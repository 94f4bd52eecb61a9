import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 connection-specific fields, plus the legacy ones proxies still see. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization'];

/**
 * Pass 1: drops hop-by-hop headers, including every header the client named in `Connection`. Runs
 * first, before identity is set, so a client cannot name the gateway's own headers in `Connection`
 * and have a later hop strip them (CVE-2021-31999). Returns the `Upgrade` value the client asked for.
 */
export function dropHopByHop(headers: IncomingHttpHeaders): string | undefined {
  const upgrade = headers.upgrade;
  const connection = headers.connection;
  // Runs on every proxied request: no arrays built unless the client sent Connection.
  if (connection !== undefined) {
    for (const token of (Array.isArray(connection) ? connection.join(',') : connection).split(',')) {
      const name = token.trim().toLowerCase();
      if (name) delete headers[name];
    }
  }
  // `delete` of an absent name is a runtime call each time; most requests carry one of these at most.
  for (const name of HOP_BY_HOP) if (headers[name] !== undefined) delete headers[name];
  return upgrade;
}
