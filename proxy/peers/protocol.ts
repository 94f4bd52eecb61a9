import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The replica-to-replica relay (replica B reaches a tunnel replica A holds): B asks A's listener for
 * `GET /bcsapi/v1/peer/dial` with `Upgrade: bcs-api-peer-relay/1`, naming the cluster, the tunnel's
 * module and the address to dial; after the 101 the connection carries raw bytes to and from a virtual
 * connection of A's tunnel. B speaks TLS to the apiserver (or HTTP to the driver) end to end over it.
 *
 * The request is signed, not carrying the secret: an HMAC-SHA256 over what it asks for and a timestamp,
 * so neither a log line nor a plain-HTTP hop can leak the secret, and a captured signature opens only the
 * same target for a minute.
 */
export const PEER_DIAL_PATH = '/bcsapi/v1/peer/dial';
export const PEER_UPGRADE = 'bcs-api-peer-relay/1';

export const PEER_HEADERS = {
  cluster: 'bcs-api-peer-cluster',
  module: 'bcs-api-peer-module',
  target: 'bcs-api-peer-target',
  signature: 'bcs-api-peer-signature',
} as const;

/** Agent and driver tunnels a peer may hold (the handshake's module names). */
export type PeerModule = 'kube-agent' | 'mesos-driver' | 'k8s-driver';
export const PEER_MODULES: readonly PeerModule[] = ['kube-agent', 'mesos-driver', 'k8s-driver'];

/** How far a signature's timestamp may be from this replica's clock. */
const MAX_SKEW_S = 60;

export interface DialRequest {
  clusterId: string;
  module: PeerModule;
  /** `host:port` the tunnel's far end is asked to dial. */
  target: string;
}

const mac = (secret: string, ts: number, r: DialRequest): Buffer =>
  crypto.createHmac('sha256', secret).update(`${PEER_UPGRADE}\n${ts}\n${r.module}\n${r.clusterId}\n${r.target}`).digest();

export function signDial(secret: string, r: DialRequest, now = Date.now()): Record<string, string> {
  const ts = Math.floor(now / 1000);
  return {
    [PEER_HEADERS.cluster]: r.clusterId,
    [PEER_HEADERS.module]: r.module,
    [PEER_HEADERS.target]: r.target,
    [PEER_HEADERS.signature]: `${ts}.${mac(secret, ts, r).toString('hex')}`,
  };
}

const one = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return typeof v === 'string' && v ? v : undefined;
};

/** What the request asks for, or why it is malformed (400). */
export function parseDial(h: IncomingHttpHeaders): DialRequest | { malformed: string } {
  const clusterId = one(h, PEER_HEADERS.cluster);
  const module = one(h, PEER_HEADERS.module) as PeerModule | undefined;
  const target = one(h, PEER_HEADERS.target);
  if (!clusterId || !target) return { malformed: `${PEER_HEADERS.cluster} and ${PEER_HEADERS.target} are required` };
  if (!module || !PEER_MODULES.includes(module)) return { malformed: `${PEER_HEADERS.module} must be one of ${PEER_MODULES.join(', ')}` };
  return { clusterId, module, target };
}

/** Constant-time check of the signature; false for a missing, stale or wrong one. */
export function verifyDial(secret: string, h: IncomingHttpHeaders, r: DialRequest, now = Date.now()): boolean {
  const m = /^(\d{1,12})\.([0-9a-f]{64})$/.exec(one(h, PEER_HEADERS.signature) ?? '');
  if (!m) return false;
  const ts = Number(m[1]);
  if (Math.abs(now / 1000 - ts) > MAX_SKEW_S) return false;
  return crypto.timingSafeEqual(Buffer.from(m[2]!, 'hex'), mac(secret, ts, r));
}
