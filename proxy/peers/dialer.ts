import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { PeeringConfig } from '../../src/config/peering';
import { LateDuplex } from './late-duplex';
import type { PeerMetrics } from './metrics';
import { PEER_DIAL_PATH, PEER_UPGRADE, signDial, type DialRequest } from './protocol';

/** Longest refusal body kept for the error message. */
const MAX_REFUSAL = 512;

const failure = (message: string, code: string): Error => Object.assign(new Error(message), { code });

/**
 * Opens connections through a peer's tunnel: a signed upgrade to the peer's own listener, verified
 * against the configured CA (or the first-run one) when the peer serves TLS. The returned stream is the
 * raw connection to the tunnel's far end, so callers use it exactly as a local virtual connection.
 */
export class PeerDialer {
  private readonly ca?: string;

  constructor(
    private readonly peering: Pick<PeeringConfig, 'secret' | 'caFile' | 'serverName'>,
    private readonly connectTimeoutMs: number,
    private readonly metrics: PeerMetrics,
    /** This replica serves TLS: a peer publishing a plain listener is not relayed through (the bytes are TLS to the apiserver, but the dial request is not). */
    private readonly requireTls: boolean,
    /** Workers relay to each other over Unix sockets: the socket a holder's URL stands for. */
    private readonly socketOf?: (url: URL) => string | undefined,
  ) {
    // Read once: a CA rotated on disk takes a restart, as the listener's own certificate does.
    this.ca = peering.caFile && fs.existsSync(peering.caFile) ? fs.readFileSync(peering.caFile, 'utf8') : undefined;
  }

  /** `peerUrl`: the peer's listener (`https://ip:port`) as it published it. */
  dial(peerUrl: string, r: DialRequest): Duplex {
    const conn = new LateDuplex();
    const url = new URL(PEER_DIAL_PATH, peerUrl);
    if (this.requireTls && url.protocol !== 'https:') {
      this.metrics.dialled('refused');
      process.nextTick(() => conn.destroy(failure(`peer ${url.host} publishes a plain-HTTP listener while this replica serves TLS; not relaying through it`, 'ECONNREFUSED')));
      return conn;
    }
    const serverName = this.peering.serverName;
    const socketPath = this.socketOf?.(url);
    const options: https.RequestOptions = {
      method: 'GET',
      ...(socketPath ? { socketPath } : {}),
      agent: false,
      timeout: this.connectTimeoutMs,
      headers: { connection: 'Upgrade', upgrade: PEER_UPGRADE, ...signDial(this.peering.secret, r) },
      ...(url.protocol === 'https:'
        ? { ca: this.ca, rejectUnauthorized: true, ...(serverName ? { servername: serverName, checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(serverName, cert) } : {}) }
        : {}),
    };
    const req = (url.protocol === 'https:' ? https : http).request(url, options);
    let settled = false;
    req.on('upgrade', (_res, socket, head) => {
      settled = true;
      socket.setTimeout(0);
      socket.setNoDelay(true);
      this.metrics.dialled('ok');
      conn.attach(socket, head);
    });
    req.on('response', (res) => {
      settled = true;
      this.metrics.dialled('refused');
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body = (body + c).slice(0, MAX_REFUSAL)));
      res.on('end', () => conn.destroy(failure(`peer ${url.host} refused the relay: ${res.statusCode} ${body.trim()}`, res.statusCode === 404 ? 'ECONNRESET' : 'ECONNREFUSED')));
      res.on('error', () => conn.destroy(failure(`peer ${url.host} refused the relay: ${res.statusCode}`, 'ECONNREFUSED')));
    });
    req.on('timeout', () => req.destroy(failure(`peer ${url.host}: no answer within ${this.connectTimeoutMs} ms`, 'ETIMEDOUT')));
    req.on('error', (err) => {
      if (settled) return;
      settled = true;
      this.metrics.dialled('failed');
      conn.destroy(err);
    });
    conn.onDestroy(() => req.destroy());
    req.end();
    return conn;
  }
}
