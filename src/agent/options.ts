import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';

export const AGENT_USAGE = `usage: bcs-api agent [flags]

Runs inside a cluster as its bcs-kube-agent: reports the cluster's apiserver credentials to the gateway
(default), or holds a reverse websocket tunnel to it (--use-websocket).

flags (spelled as the original bcs-kube-agent spells them):
  --bke-address <url>               the gateway, e.g. https://bcs-api:8443 (required)
  --cluster-id <id>                 this cluster's id in the gateway (required)
  --periodsync <seconds>            report period; also how often the service-account token is re-read (default 60)
  --insecureSkipVerify              do not verify the gateway's certificate (not with SERVER_CERT)
  --use-websocket                   hold a tunnel instead of reporting credentials
  --external-proxy-addresses <a;b>  report these https:// addresses instead of the discovered apiservers
                                      (report mode only)
  --listen-addr <host:port>         /healthz and /metrics (default 0.0.0.0:10254)
  --give-up-after <seconds>         exit 1 when the gateway has not accepted a report or a tunnel that long,
                                      so the pod restarts (and re-reads its Secret); 0 = never (default 600)
  --gateway-tls                     with --use-websocket: leave TLS to the apiserver to the gateway, as with
                                      the original agent, instead of ending it here (see the README)
  -h, --help                        show this help

environment:
  REGISTER_TOKEN                    the cluster's register token (required)
  SERVER_CERT                       the gateway's CA, PEM or base64 of PEM; the only trusted root when set
  KUBERNETES_SERVICE_HOST/_PORT     the in-cluster apiserver (set by Kubernetes)
  BCS_AGENT_SERVICEACCOUNT_DIR      where the service-account token and ca.crt are, for tests and
                                      non-standard mounts (default /var/run/secrets/kubernetes.io/serviceaccount)`;

export const DEFAULT_SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface AgentOptions {
  bkeAddress: URL;
  clusterId: string;
  periodMs: number;
  insecureSkipVerify: boolean;
  useWebsocket: boolean;
  /** Do not announce `agentTls`: the gateway runs TLS to the apiserver over the tunnel (the original's way). */
  gatewayTls: boolean;
  externalProxyAddresses: string[];
  listen: { host: string; port: number };
  giveUpAfterMs: number;
  registerToken: string;
  /** The gateway's CA (PEM), when SERVER_CERT is set. */
  serverCa?: string;
  saDir: string;
  /** `host:port` of the in-cluster apiserver service, when the environment names it. */
  service?: { host: string; port: number };
}

/** A mistake in the agent's flags or environment: printed with a pointer to --help, exit status 2. */
export class AgentUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentUsageError';
  }
}

const BOOLEAN_FLAGS = ['insecureSkipVerify', 'use-websocket', 'gateway-tls', 'help'];

/** pflag accepts `--use-websocket=true`; node's parser does not, so such spellings are rewritten first. */
function normaliseBooleans(argv: string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const m = /^--([^=]+)=(.*)$/.exec(arg);
    if (m && BOOLEAN_FLAGS.includes(m[1]!)) {
      if (m[2] === 'true') out.push(`--${m[1]}`);
      else if (m[2] !== 'false') throw new AgentUsageError(`--${m[1]}: must be true or false`);
      continue;
    }
    out.push(arg);
  }
  return out;
}

export function parseAgentArgs(argv: string[]): ReturnType<typeof parse> {
  try {
    return parse(normaliseBooleans(argv));
  } catch (err) {
    if (err instanceof AgentUsageError) throw err;
    throw new AgentUsageError((err as Error).message);
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      'bke-address': { type: 'string' },
      'cluster-id': { type: 'string' },
      periodsync: { type: 'string', default: '60' },
      insecureSkipVerify: { type: 'boolean', default: false },
      'use-websocket': { type: 'boolean', default: false },
      'gateway-tls': { type: 'boolean', default: false },
      'external-proxy-addresses': { type: 'string' },
      'listen-addr': { type: 'string', default: '0.0.0.0:10254' },
      'give-up-after': { type: 'string', default: '600' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}

function seconds(flag: string, value: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > 86_400 * 365) throw new AgentUsageError(`--${flag}: must be a whole number of seconds${min > 0 ? ` (at least ${min})` : ''}`);
  return Number(value) * 1000;
}

function bkeAddress(value: string | undefined): URL {
  if (!value) throw new AgentUsageError('--bke-address is required (e.g. https://bcs-api:8443)');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AgentUsageError('--bke-address: not a URL (expected https://host:port)');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname || url.search || url.hash || url.username) {
    throw new AgentUsageError('--bke-address: expected https://host[:port][/prefix]');
  }
  return url;
}

export function parseListenAddr(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new AgentUsageError('--listen-addr: expected host:port (e.g. 0.0.0.0:10254)');
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function externalAddresses(value: string | undefined): string[] {
  if (value === undefined) return [];
  const parts = value.split(';').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new AgentUsageError('--external-proxy-addresses: no address given');
  for (const part of parts) {
    let ok = part.startsWith('https://');
    try {
      ok &&= Boolean(new URL(part).hostname);
    } catch {
      ok = false;
    }
    if (!ok) throw new AgentUsageError(`--external-proxy-addresses: each address must be an https:// URL (got "${part.slice(0, 80)}")`);
  }
  return parts;
}

/** SERVER_CERT as the Secret carries it: PEM, or base64 of PEM. Its value is never echoed. */
export function parseServerCert(value: string): string {
  const text = value.trim();
  const pem = text.includes('-----BEGIN') ? text : Buffer.from(text, 'base64').toString('utf8').trim();
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new AgentUsageError('SERVER_CERT: neither a PEM certificate nor base64 of one');
  try {
    new X509Certificate(pem);
  } catch {
    throw new AgentUsageError('SERVER_CERT: not a valid PEM certificate');
  }
  return `${pem}\n`;
}

function service(env: NodeJS.ProcessEnv): AgentOptions['service'] {
  const host = env['KUBERNETES_SERVICE_HOST']?.trim();
  const port = env['KUBERNETES_SERVICE_PORT']?.trim();
  if (!host && !port) return undefined;
  if (!host || !port || !/^\d{1,5}$/.test(port) || Number(port) > 65535 || Number(port) === 0) {
    throw new AgentUsageError('KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT: both must be set, the port a number');
  }
  return { host, port: Number(port) };
}

/** Flags and environment to options; every mistake is an AgentUsageError naming the setting. */
export function agentOptions(values: Exclude<ReturnType<typeof parseAgentArgs>, undefined>, env: NodeJS.ProcessEnv): AgentOptions {
  const registerToken = env['REGISTER_TOKEN']?.trim();
  const serverCertEnv = env['SERVER_CERT']?.trim();
  const opts: AgentOptions = {
    bkeAddress: bkeAddress(values['bke-address']),
    clusterId: values['cluster-id']?.trim() ?? '',
    periodMs: seconds('periodsync', values.periodsync!, 1),
    insecureSkipVerify: values.insecureSkipVerify!,
    useWebsocket: values['use-websocket']!,
    gatewayTls: values['gateway-tls']!,
    externalProxyAddresses: externalAddresses(values['external-proxy-addresses']),
    listen: parseListenAddr(values['listen-addr']!),
    giveUpAfterMs: seconds('give-up-after', values['give-up-after']!, 0),
    registerToken: registerToken ?? '',
    serverCa: serverCertEnv ? parseServerCert(serverCertEnv) : undefined,
    saDir: env['BCS_AGENT_SERVICEACCOUNT_DIR']?.trim() || DEFAULT_SA_DIR,
    service: service(env),
  };
  if (!opts.clusterId) throw new AgentUsageError('--cluster-id is required');
  if (/[/?#\s]/.test(opts.clusterId) || opts.clusterId.length > 128) throw new AgentUsageError('--cluster-id: not a cluster id');
  if (!registerToken) throw new AgentUsageError('REGISTER_TOKEN is required (the cluster\'s register token)');
  if (opts.insecureSkipVerify && opts.serverCa) throw new AgentUsageError('--insecureSkipVerify and SERVER_CERT contradict each other: drop one');
  if (opts.gatewayTls && !opts.useWebsocket) throw new AgentUsageError('--gateway-tls applies to websocket mode only (--use-websocket)');
  if (opts.useWebsocket && opts.externalProxyAddresses.length) throw new AgentUsageError('--external-proxy-addresses applies to report mode only, not with --use-websocket');
  if (!opts.service && (opts.useWebsocket || !opts.externalProxyAddresses.length)) {
    throw new AgentUsageError('KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: the agent runs inside a cluster');
  }
  return opts;
}
