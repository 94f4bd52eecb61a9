import type { Duplex } from 'node:stream';

/** What a connection opened for an upstream request is, and the event after which the request may be written. */
export interface UpstreamConnection<S extends Duplex = Duplex> {
  socket: S;
  /** `secureConnect` for TLS run by the gateway; `established` for a connection whose TLS the agent ended. */
  ready: 'secureConnect' | 'established';
}

/**
 * Waits until the agent has verified the apiserver's certificate on a `tls` Connect (its first, empty
 * Data frame: the virtual connection's 'established'), then hands the connection over. A failed
 * handshake at the agent arrives as the connection's error (`tls: <code>: …`), before anything of the
 * request has been given to the HTTP client, so the client is answered that TLS to the apiserver failed.
 */
export function whenAgentTlsEstablished(conn: Duplex, timeoutMs: number, callback: (err: Error | null, conn?: Duplex) => void): void {
  let done = false;
  const settle = (err: Error | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    conn.off('established', ok);
    conn.off('error', settle);
    conn.off('close', closed);
    if (err) {
      conn.destroy();
      callback(err);
    } else callback(null, conn);
  };
  const ok = (): void => settle(null);
  const closed = (): void => settle(Object.assign(new Error('tunnel: the connection closed before TLS to the apiserver was established'), { code: 'ECONNRESET' }));
  const timer = setTimeout(() => settle(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), timeoutMs);
  conn.once('established', ok);
  conn.once('error', settle);
  conn.once('close', closed);
}
