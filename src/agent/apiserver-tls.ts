import net from 'node:net';
import tls from 'node:tls';
import type { DialTarget } from './tunnel-session';

/** The name kube-apiserver's serving certificate always carries (and the gateway checks by default). */
export const APISERVER_NAME = 'kubernetes';

/**
 * TLS to the apiserver for a `tls/<host:port>` Connect: verified against the in-cluster CA, as the
 * agent's own discovery probe verifies it, and also by name: `kubernetes` (every kube-apiserver
 * certificate names it, and it is the gateway's default `proxy.upstream_server_name`) or the address
 * dialled. Only HTTP/1.1 is offered: the gateway speaks plain HTTP/1.1 over the connection and cannot
 * learn which protocol ALPN chose.
 */
export function connectApiserverTls(target: DialTarget, caPem: string, onread: { buffer: Buffer; callback: (n: number) => boolean }): tls.TLSSocket {
  const options: tls.ConnectionOptions & Pick<net.TcpSocketConnectOpts, 'onread'> = {
    host: target.host,
    port: target.port,
    ca: caPem,
    servername: APISERVER_NAME,
    ALPNProtocols: ['http/1.1'],
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => {
      const byName = tls.checkServerIdentity(APISERVER_NAME, cert);
      if (!byName) return undefined;
      return tls.checkServerIdentity(target.host, cert) ? byName : undefined;
    },
    // Node's TLS reads into the caller's buffer as `net` does (not in its types).
    onread,
  };
  return tls.connect(options);
}

/**
 * An Error payload for a failed apiserver TLS connection: `tls: <code>: <message>`, so the gateway can
 * answer its client that TLS to the apiserver failed (and not that the connection was merely reset).
 */
export function tlsFailureReason(err: NodeJS.ErrnoException): string {
  return `tls: ${err.code ?? 'ERR_TLS'}: ${err.message}`;
}
