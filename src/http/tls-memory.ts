import type net from 'node:net';
import type tls from 'node:tls';

/** A connection that has not sent its first TLS bytes in this long is closed (clients send the ClientHello at once). */
export const HELLO_WAIT_MS = 20_000;

/**
 * Makes `server` start TLS on a connection only once its first bytes (the ClientHello) have arrived.
 *
 * Why: Node's TLS layer keeps its encrypted input in a buffer ring that never shrinks, and sizes the
 * first buffer by the first read it is given. Started on a fresh socket, that read is libuv's suggested
 * 64 KiB, so every TLS connection keeps a 64 KiB buffer that large reads (agent tunnels carrying list
 * responses and logs) make resident. Started with the ClientHello already read, Node hands those bytes
 * over first, and the ring is a 1 KiB and a 16 KiB buffer instead (with releaseAlpnCopy, bench:tunnel's
 * gateway RSS per idle agent tunnel went from ~100 to 51-64 KiB). Reads are then at most 16 KiB, one TLS record.
 *
 * Node's own connection listener is kept and called with the socket once the bytes are back in it, so
 * everything after (handshake timeout, ALPN, HTTP/2) is unchanged. If the server has other connection
 * listeners, it is left as it is.
 */
export function startTlsAfterHello(server: tls.Server, waitMs = HELLO_WAIT_MS): void {
  const listeners = server.listeners('connection');
  if (listeners.length !== 1) return;
  const startTls = listeners[0] as (socket: net.Socket) => void;
  server.removeListener('connection', startTls);
  server.on('connection', (socket: net.Socket) => {
    const drop = (): void => void socket.destroy();
    socket.setTimeout(waitMs);
    socket.once('timeout', drop);
    socket.on('error', drop);
    socket.once('data', (hello: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      socket.removeListener('timeout', drop);
      socket.removeListener('error', drop);
      socket.unshift(hello);
      startTls.call(server, socket);
    });
  });
}

/**
 * Lets go of the copy of the ALPN protocol list a TLS socket keeps in its options once the handshake has
 * used it. Node copies the server's list for every connection with `Buffer.from`, a few bytes carved from
 * the shared 8 KiB Buffer pool, so each long-lived connection kept a whole pool alive: a heap snapshot of
 * 200 idle agent tunnels held 138 such pools (~5.5 KiB per tunnel). The list is read only while the
 * handshake is set up.
 */
export function releaseAlpnCopy(socket: tls.TLSSocket): void {
  const options = (socket as unknown as { _tlsOptions?: { ALPNProtocols?: unknown } })._tlsOptions;
  if (options && 'ALPNProtocols' in options) options.ALPNProtocols = undefined;
}
