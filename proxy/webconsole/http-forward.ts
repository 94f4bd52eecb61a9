import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent, errors as undiciErrors } from 'undici';
import { isIdentityHeader } from '../shared/bcsapi-caller';
import { envelopeBody } from './refuse';
import type { ConsoleTarget, ConsoleTls } from './target';
import { WEBCONSOLE_FAILED } from './ws-relay';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'http2-settings']);
/** The original's transport: 30 s to connect (and TLS), and we add 30 s to response headers. */
const HEADERS_TIMEOUT_MS = 30_000;

function requestHeaders(req: IncomingMessage, forwarded: { for: string; proto: string }): Record<string, string | string[]> {
  const named = new Set(String(req.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()));
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.charCodeAt(0) === 58 || HOP_BY_HOP.has(name) || named.has(name) || isIdentityHeader(name)) continue;
    if (name === 'x-forwarded-for' || name === 'x-forwarded-proto' || name === 'forwarded') continue;
    out[name] = value;
  }
  out['x-forwarded-for'] = forwarded.for;
  out['x-forwarded-proto'] = forwarded.proto;
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const named = new Set(String(headers['connection'] ?? '').toLowerCase().split(',').map((s) => s.trim()));
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) out[name] = value;
  return out;
}

export interface ForwardEnd {
  status: number;
  bytesOut: number;
  error?: string;
}

/** The console's plain HTTP requests (its page, scripts, session creation): streamed both ways. */
export class ConsoleHttp {
  private readonly agent: Agent;

  constructor(tls: ConsoleTls | undefined, connectMs: number) {
    this.agent = new Agent({ connect: { timeout: connectMs, ...tls }, headersTimeout: HEADERS_TIMEOUT_MS, bodyTimeout: 0, keepAliveTimeout: 30_000 });
  }

  async forward(req: IncomingMessage, res: ServerResponse, target: ConsoleTarget, forwarded: { for: string; proto: string }): Promise<ForwardEnd> {
    const abort = new AbortController();
    const gone = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', gone);
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    let upstream;
    try {
      upstream = await this.agent.request({
        origin: target.origin,
        path: target.path,
        method: (req.method ?? 'GET') as 'GET',
        headers: requestHeaders(req, forwarded),
        body: hasBody ? req : undefined,
        signal: abort.signal,
      });
    } catch (err) {
      res.off('close', gone);
      if (abort.signal.aborted) return { status: 499, bytesOut: 0, error: 'client went away' };
      const timedOut = err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
      const body = envelopeBody(WEBCONSOLE_FAILED, `couldn't reach the console proxy at ${target.origin}: ${code}`);
      const status = timedOut ? 504 : 502;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return { status, bytesOut: body.length, error: code };
    }
    res.writeHead(upstream.statusCode, responseHeaders(upstream.headers));
    let bytesOut = 0;
    upstream.body.on('data', (c: Buffer) => (bytesOut += c.length));
    try {
      await pipeline(upstream.body, res);
    } catch {
      res.destroy();
      return { status: upstream.statusCode, bytesOut, error: 'stream ended early' };
    } finally {
      res.off('close', gone);
    }
    return { status: upstream.statusCode, bytesOut };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
