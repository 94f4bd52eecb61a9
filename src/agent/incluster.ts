import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

/** What the pod's service account gives the agent; read afresh each period, as projected tokens rotate. */
export interface ServiceAccount {
  token: string;
  caPem: string;
}

export function readServiceAccount(saDir: string): ServiceAccount {
  const token = fs.readFileSync(path.join(saDir, 'token'), 'utf8').trim();
  const caPem = fs.readFileSync(path.join(saDir, 'ca.crt'), 'utf8');
  if (!token) throw new Error(`the service-account token file in ${saDir} is empty`);
  if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${path.join(saDir, 'ca.crt')} holds no PEM certificate`);
  return { token, caPem };
}

/** `host:port` with IPv6 literals bracketed, as URLs and tunnel Connect messages write them. */
export function hostPort(host: string, port: number): string {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

export const serviceUrl = (service: { host: string; port: number }): string => `https://${hostPort(service.host, service.port)}`;

interface EndpointSubset {
  addresses?: { ip?: string }[];
  ports?: { name?: string; port?: number }[];
}

const MAX_ENDPOINTS_BODY = 1024 * 1024;

/** GET default/kubernetes Endpoints with the pod's token, trusting the in-cluster CA only. */
export function readKubernetesEndpoints(service: { host: string; port: number }, sa: ServiceAccount, timeoutMs = 10_000): Promise<EndpointSubset[]> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: service.host,
        port: service.port,
        path: '/api/v1/namespaces/default/endpoints/kubernetes',
        method: 'GET',
        ca: sa.caPem,
        headers: { authorization: `Bearer ${sa.token}`, accept: 'application/json' },
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ENDPOINTS_BODY) req.destroy(new Error('Endpoints response too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`reading Endpoints default/kubernetes: HTTP ${res.statusCode}`));
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { subsets?: EndpointSubset[] };
            resolve(Array.isArray(body.subsets) ? body.subsets : []);
          } catch {
            reject(new Error('reading Endpoints default/kubernetes: the response is not JSON'));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('reading Endpoints default/kubernetes: timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Every `ip:port` of the subsets, the port being the one named `https` (as the original picks it). */
export function endpointTargets(subsets: EndpointSubset[]): { ip: string; port: number }[] {
  const out: { ip: string; port: number }[] = [];
  for (const subset of subsets) {
    const port = subset.ports?.find((p) => p.name === 'https')?.port;
    if (!port || !Number.isInteger(port)) continue;
    for (const a of subset.addresses ?? []) if (a.ip && net.isIP(a.ip)) out.push({ ip: a.ip, port });
  }
  return out;
}

/**
 * A TLS handshake whose certificate chains to the in-cluster CA: the address is this cluster's apiserver
 * and it answers. The name is not checked: the agent dials IPs the certificate may not list.
 */
export function probeApiserver(ip: string, port: number, caPem: string, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: ip, port, ca: caPem, servername: net.isIP(ip) ? undefined : ip, checkServerIdentity: () => undefined });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('secureConnect', () => done(socket.authorized));
    socket.once('error', () => done(false));
  });
}

/**
 * The apiserver addresses to report: the reachable Endpoints of `default/kubernetes` as `https://ip:port`,
 * sorted and de-duplicated; the service address when none can be read or none answers.
 */
export async function discoverApiservers(
  service: { host: string; port: number },
  sa: ServiceAccount,
  warn: (msg: string, detail?: Record<string, unknown>) => void,
): Promise<string[]> {
  let targets: { ip: string; port: number }[] = [];
  try {
    targets = endpointTargets(await readKubernetesEndpoints(service, sa));
  } catch (err) {
    warn('cannot read the apiserver endpoints; reporting the service address', { err: (err as Error).message });
    return [serviceUrl(service)];
  }
  const probed = await Promise.all(targets.map(async (t) => ((await probeApiserver(t.ip, t.port, sa.caPem)) ? `https://${hostPort(t.ip, t.port)}` : undefined)));
  const reachable = [...new Set(probed.filter((a): a is string => Boolean(a)))].sort();
  const unreachable = targets.length - probed.filter(Boolean).length;
  if (unreachable) warn('apiserver endpoints left out: no TLS handshake with the in-cluster CA', { unreachable, of: targets.length });
  if (!reachable.length) {
    warn('no apiserver endpoint answers; reporting the service address');
    return [serviceUrl(service)];
  }
  return reachable;
}
