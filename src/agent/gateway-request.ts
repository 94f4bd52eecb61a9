import http from 'node:http';
import https from 'node:https';
import type { AgentOptions } from './options';

/** TLS settings for every connection to the gateway: SERVER_CERT as the only root, or no check at all. */
export function gatewayTls(opts: Pick<AgentOptions, 'serverCa' | 'insecureSkipVerify'>): { ca?: string; rejectUnauthorized: boolean } {
  return { ...(opts.serverCa ? { ca: opts.serverCa } : {}), rejectUnauthorized: !opts.insecureSkipVerify };
}

export interface GatewayResponse {
  status: number;
  /** `code_name` and `message` of a /rest error body, cut short; never the request's values. */
  codeName?: string;
  message?: string;
}

const MAX_RESPONSE = 64 * 1024;

/** One JSON request to the gateway; rejects on network and TLS errors only, never with the body it sent. */
export function gatewayJson(opts: AgentOptions, method: string, url: URL, body: unknown, timeoutMs = 30_000): Promise<GatewayResponse> {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method,
        headers: { 'content-type': 'application/json', 'content-length': payload.length, accept: 'application/json' },
        timeout: timeoutMs,
        agent: false,
        ...(url.protocol === 'https:' ? gatewayTls(opts) : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_RESPONSE) chunks.push(c);
        });
        res.on('end', () => {
          const out: GatewayResponse = { status: res.statusCode ?? 0 };
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            if (typeof parsed['code_name'] === 'string') out.codeName = parsed['code_name'].slice(0, 80);
            if (typeof parsed['message'] === 'string') out.message = parsed['message'].slice(0, 300);
          } catch {
            // Not JSON (a proxy's error page): the status says enough.
          }
          resolve(out);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from the gateway within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(payload);
  });
}
