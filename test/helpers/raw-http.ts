import http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** False when the body was cut off. */
  complete: boolean;
}

/** One plain HTTP/1.1 request on its own connection; resolves when the response closes, cut or not. */
export function rawCall(url: string, opts: { method?: string; body?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', () => undefined);
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, complete: res.complete }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
