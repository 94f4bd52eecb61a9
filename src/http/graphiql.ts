import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Mount } from './types';

/** True for a browser navigation to /graphql (GET that accepts text/html). */
export function wantsGraphiql(req: IncomingMessage): boolean {
  return req.method === 'GET' && /text\/html/.test(req.headers.accept ?? '');
}

/** Writes the offline GraphiQL page. Placeholder: the real page is served from local npm assets. */
export function sendGraphiql(res: ServerResponse, _graphqlPath: string): void {
  res.writeHead(501, { 'content-type': 'text/plain' });
  res.end('GraphiQL not available yet');
}

/** Static assets the page loads (GraphiQL, React), from node_modules. */
export function graphiqlAssetMounts(): Mount[] {
  return [];
}
