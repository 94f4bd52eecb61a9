import fs from 'node:fs';
import type { Config } from '../../src/config/config';

/** The original's `mesos_webconsole_proxy_port` default. */
export const DEFAULT_CONSOLE_PORT = 8083;

/** Client TLS for the console proxy: the gateway's client certificate, verified against `ca_file` when set. */
export interface ConsoleTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

export interface ConsoleTarget {
  /** `https://10.0.0.5:8083` (or http without client certificates). */
  origin: string;
  /** The request's path with its first `webconsole` segment replaced by `consoleproxy`, query kept. */
  path: string;
}

/** Read once at start: a console session never waits on the file system. */
export function consoleTls(config: Config): ConsoleTls | undefined {
  if (!config.clientTls) return undefined;
  return {
    cert: fs.readFileSync(config.clientTls.certFile),
    key: fs.readFileSync(config.clientTls.keyFile),
    ca: config.tls?.caFile ? fs.readFileSync(config.tls.caFile) : undefined,
  };
}

const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

/** undefined when the path could resolve elsewhere on the console host than it reads. */
export function consoleTarget(url: string, address: string, family: 4 | 6, port: number, secure: boolean): ConsoleTarget | undefined {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (DOT_SEGMENT.test(path) || /%2f|%5c|\\/i.test(path)) return undefined;
  const host = family === 6 ? `[${address}]` : address;
  return { origin: `${secure ? 'https' : 'http'}://${host}:${port}`, path: path.replace('/webconsole', '/consoleproxy') + (q < 0 ? '' : url.slice(q)) };
}
