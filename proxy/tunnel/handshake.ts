import type { IncomingMessage } from 'node:http';
import { caFingerprint } from '../../src/domain/credentials';
import type { TunnelParams } from './session';

/** The kube agent's module names: the original server's and the one newer agents send. */
const KUBE_AGENT_MODULES = new Set(['kube-agent', 'kubeagent']);
/** Modules the original knew that this gateway does not serve through a tunnel. */
const OTHER_MODULES = new Set(['mesos-driver', 'mesosdriver', 'k8s-driver', 'k8sdriver']);

export interface TunnelRequest {
  clusterId: string;
  registerToken: string;
  params: TunnelParams;
}

export interface HandshakeRefusal {
  status: 400 | 401 | 403 | 503;
  message: string;
}

/** Headers longer than this are not a cluster id, token or params this gateway wrote (params carry a CA, so 64 KiB). */
const MAX_PARAMS = 64 * 1024;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (Array.isArray(value)) return undefined;
  return value?.trim() || undefined;
}

const bad = (message: string): HandshakeRefusal => ({ status: 400, message });

/**
 * Reads the original's handshake headers (`BCS-API-Tunnel-Module`, `-ClusterId`, `-Token`, `-Params`)
 * and validates the params before anything is looked up. The refusal says which header or field is
 * wrong, never echoing its value.
 */
export function parseHandshake(req: IncomingMessage): TunnelRequest | HandshakeRefusal {
  const module = header(req, 'bcs-api-tunnel-module');
  if (!module) return bad('missing header BCS-API-Tunnel-Module');
  if (!KUBE_AGENT_MODULES.has(module)) {
    const known = OTHER_MODULES.has(module);
    return { status: 403, message: known ? `tunnel module "${module}" is not served by this gateway; only kube-agent` : 'unknown tunnel module; only kube-agent is allowed' };
  }
  const clusterId = header(req, 'bcs-api-tunnel-clusterid');
  if (!clusterId) return bad('missing header BCS-API-Tunnel-ClusterId');
  if (clusterId.length > 128) return bad('header BCS-API-Tunnel-ClusterId is too long');
  const registerToken = header(req, 'bcs-api-tunnel-token');
  if (!registerToken) return bad('missing header BCS-API-Tunnel-Token');
  if (registerToken.length > 512) return bad('header BCS-API-Tunnel-Token is too long');
  const raw = header(req, 'bcs-api-tunnel-params');
  if (!raw) return bad('missing header BCS-API-Tunnel-Params');
  if (raw.length > MAX_PARAMS) return bad('header BCS-API-Tunnel-Params is too long');
  const params = parseParams(raw);
  if ('status' in params) return params;
  return { clusterId, registerToken, params };
}

function parseParams(raw: string): TunnelParams | HandshakeRefusal {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) return bad('header BCS-API-Tunnel-Params is not base64');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    return bad('header BCS-API-Tunnel-Params is not base64 of a JSON object');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return bad('header BCS-API-Tunnel-Params is not base64 of a JSON object');
  const { address, userToken, caCert } = json as Record<string, unknown>;
  if (typeof address !== 'string' || !address) return bad('tunnel params: field "address" is required');
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return bad('tunnel params: field "address" is not a URL (expected https://host:port)');
  }
  if (url.protocol !== 'https:' || !url.hostname || (url.pathname !== '/' && url.pathname !== '')) return bad('tunnel params: field "address" must be https://host:port');
  if (typeof userToken !== 'string' || !userToken) return bad('tunnel params: field "userToken" is required for kube-agent');
  if (typeof caCert !== 'string' || !caCert) return bad('tunnel params: field "caCert" is required for kube-agent');
  const caCertPem = Buffer.from(caCert, 'base64').toString('utf8');
  try {
    caFingerprint(caCertPem);
  } catch {
    return bad('tunnel params: field "caCert" must be base64 of a PEM certificate');
  }
  return { address: url.origin, hostPort: `${url.hostname}:${url.port || 443}`, userToken, caCertPem };
}
