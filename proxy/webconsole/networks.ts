import { BlockList, isIP } from 'node:net';
import os from 'node:os';
import { parseCidr } from '../../src/config/bcsapi';

/** Where the console may be dialled when `webconsole.allowed_networks` is not set: the private IPv4 ranges. */
export const DEFAULT_CONSOLE_NETWORKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/**
 * Ranges refused even inside an allowed network unless an allowed entry lies within them (written for
 * them on purpose, like `127.0.0.1/32`): loopback, link-local (cloud metadata at 169.254.169.254),
 * "this network", multicast and broadcast.
 */
const SPECIAL = ['127.0.0.0/8', '169.254.0.0/16', '0.0.0.0/8', '224.0.0.0/4', '255.255.255.255/32', '::1/128', '::/128', 'fe80::/10', 'ff00::/8'];
/** IPv4 written inside IPv6 (mapped or NAT64): it must be written as IPv4, where the rules above see it. */
const EMBEDDED_V4 = ['::ffff:0:0/96', '64:ff9b::/96'];

interface Net {
  text: string;
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
  list: BlockList;
}

function net(text: string): Net {
  const c = parseCidr(text);
  if (!c) throw new Error(`not a network: ${text}`);
  const list = new BlockList();
  list.addSubnet(c.address, c.prefix, c.family);
  return { text, ...c, list };
}

/** `inner` lies entirely within `outer`. */
const within = (inner: Net, outer: Net): boolean => inner.family === outer.family && inner.prefix >= outer.prefix && outer.list.check(inner.address, inner.family);

export type HostCheck = { ok: true; address: string; family: 4 | 6 } | { ok: false; status: 400 | 403; message: string };

/**
 * Which `host_ip` values the web console may dial. The original dialled whatever the caller named, with
 * the gateway's client certificate: an open relay into everything the gateway can reach.
 */
export class ConsoleNetworks {
  private readonly allowed: Net[];
  private readonly special: Net[];
  private readonly embedded = EMBEDDED_V4.map(net);

  /** `ownAddresses`: the gateway's interface addresses by default, refused like loopback. */
  constructor(allowedNetworks: string[] | undefined, ownAddresses: string[] = interfaceAddresses()) {
    this.allowed = (allowedNetworks ?? DEFAULT_CONSOLE_NETWORKS).map(net);
    this.special = [...SPECIAL, ...ownAddresses.filter((a) => isIP(a)).map((a) => `${a}/${isIP(a) === 4 ? 32 : 128}`)].map(net);
  }

  check(hostIp: string | undefined): HostCheck {
    if (hostIp === undefined || hostIp === '') return { ok: false, status: 400, message: 'the host_ip query parameter is required: the IP address of the host whose console proxy to reach' };
    const version = hostIp.includes('%') ? 0 : isIP(hostIp);
    if (!version) return { ok: false, status: 400, message: `host_ip must be an IP address, not a host name (got ${JSON.stringify(hostIp.slice(0, 64))})` };
    const host = net(hostIp);
    if (version === 6 && this.embedded.some((e) => within(host, e))) return { ok: false, status: 403, message: `host_ip ${hostIp} embeds an IPv4 address; write it as IPv4` };
    const specials = this.special.filter((s) => within(host, s));
    const entry = this.allowed.find((a) => within(host, a) && specials.every((s) => within(a, s)));
    if (!entry) {
      const own = specials.find((s) => !SPECIAL.includes(s.text));
      const why = own ? " (one of the gateway's own addresses, which must be listed on its own to be reached)" : specials.length ? ` (in ${specials[0]!.text}, which must be listed on its own to be reached)` : '';
      return { ok: false, status: 403, message: `host_ip ${hostIp} is outside webconsole.allowed_networks${why}` };
    }
    return { ok: true, address: hostIp, family: version as 4 | 6 };
  }
}

function interfaceAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.split('%')[0]!));
}
