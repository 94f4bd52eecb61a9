import type { IncomingMessage } from 'node:http';
import { caFingerprint } from '../../src/domain/credentials';
import type { DriverParams, TunnelParams } from './session';

export type DriverModuleName = 'mesos-driver' | 'k8s-driver';
export type TunnelModule = 'kube-agent' | DriverModuleName;

/**
 * Module names as the original server spelt them, and as later agents and drivers send them
 * (`kubeagent`, `mesosdriver`; `k8sdriver` by the same rule).
 */
const MODULES: ReadonlyMap<string, TunnelModule> = new Map([
  ['kube-agent', 'kube-agent'],
  ['kubeagent', 'kube-agent'],
  ['mesos-driver', 'mesos-driver'],
  ['mesosdriver', 'mesos-driver'],
  ['k8s-driver', 'k8s-driver'],
  ['k8sdriver', 'k8s-driver'],
]);

interface Common {
  clusterId: string;
  registerToken: string;
}

/** A kube agent brings the apiserver's address, CA and a token; a driver only the address it serves on. */
export type TunnelRequest = (Common & { module: 'kube-agent'; params: TunnelParams }) | (Common & { module: DriverModuleName; params: DriverParams });

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
  const name = header(req, 'bcs-api-tunnel-module');
  if (!name) return bad('missing header BCS-API-Tunnel-Module');
  const module = MODULES.get(name);
  if (!module) return { status: 403, message: 'unknown tunnel module; allowed: kube-agent, mesos-driver, k8s-driver (or kubeagent, mesosdriver, k8sdriver)' };
  const clusterId = header(req, 'bcs-api-tunnel-clusterid');
  if (!clusterId) return bad('missing header BCS-API-Tunnel-ClusterId');
  if (clusterId.length > 128) return bad('header BCS-API-Tunnel-ClusterId is too long');
  const registerToken = header(req, 'bcs-api-tunnel-token');
  if (!registerToken) return bad('missing header BCS-API-Tunnel-Token');
  if (registerToken.length > 512) return bad('header BCS-API-Tunnel-Token is too long');
  const raw = header(req, 'bcs-api-tunnel-params');
  if (!raw) return bad('missing header BCS-API-Tunnel-Params');
  if (raw.length > MAX_PARAMS) return bad('header BCS-API-Tunnel-Params is too long');
  const parsed = parseJson(raw);
  if ('status' in parsed) return parsed;
  const { json } = parsed;
  if (module === 'kube-agent') {
    const params = agentParams(json);
    return 'status' in params ? params : { module, clusterId, registerToken, params };
  }
  const params = driverParams(json);
  return 'status' in params ? params : { module, clusterId, registerToken, params };
}

function parseJson(raw: string): { json: Record<string, unknown> } | HandshakeRefusal {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) return bad('header BCS-API-Tunnel-Params is not base64');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    return bad('header BCS-API-Tunnel-Params is not base64 of a JSON object');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return bad('header BCS-API-Tunnel-Params is not base64 of a JSON object');
  return { json: json as Record<string, unknown> };
}

/** A driver's params need only the address it serves its API on, `http(s)://host:port`. */
function driverParams(json: Record<string, unknown>): DriverParams | HandshakeRefusal {
  const { address } = json;
  if (typeof address !== 'string' || !address) return bad('tunnel params: field "address" is required');
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return bad('tunnel params: field "address" is not a URL (expected http(s)://host:port)');
  }
  const https = url.protocol === 'https:';
  if ((!https && url.protocol !== 'http:') || !url.hostname || (url.pathname !== '/' && url.pathname !== '') || url.search || url.username) {
    return bad('tunnel params: field "address" must be http://host:port or https://host:port');
  }
  return { address: url.origin, hostPort: `${url.hostname}:${url.port || (https ? 443 : 80)}` };
}

function agentParams(json: Record<string, unknown>): TunnelParams | HandshakeRefusal {
  const { address, userToken, caCert, agentTls } = json;
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
  return { address: url.origin, hostPort: `${url.hostname}:${url.port || 443}`, userToken, caCertPem, agentTls: agentTls === true };
}
