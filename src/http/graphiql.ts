import crypto from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Mount } from './types';

/**
 * Offline GraphiQL. The page loads nothing but the files below, served from the installed npm packages
 * (or, for our own bootstrap script and stylesheet, from this module), so it works without internet and
 * under a strict Content-Security-Policy with no inline script or style.
 */
export const GRAPHIQL_ASSET_PREFIX = '/graphiql-assets';

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const JSON_MAP = 'application/json; charset=utf-8';

/** Our bootstrap: token field, fetcher with `Authorization: Bearer`, URL <-> editor sync. */
const APP_JS = String.raw`(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var endpoint = root.getAttribute('data-endpoint') || '/graphql';
  var tokenInput = document.getElementById('token');
  var KEY = 'bcs-api.graphiql.token';
  function readToken() { try { return sessionStorage.getItem(KEY) || ''; } catch (e) { return ''; } }
  function saveToken(t) { try { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY); } catch (e) { /* storage disabled */ } }

  var params = new URLSearchParams(location.search);
  function syncUrl(name, value) {
    if (value) params.set(name, value); else params.delete(name);
    var qs = params.toString();
    history.replaceState(null, '', location.pathname + (qs ? '?' + qs : ''));
  }

  var reactRoot = ReactDOM.createRoot(root);
  var initial = {
    query: params.get('query') || undefined,
    variables: params.get('variables') || undefined,
    operationName: params.get('operationName') || undefined
  };
  function render() {
    var token = tokenInput.value.trim();
    var headers = token ? { Authorization: 'Bearer ' + token } : {};
    reactRoot.render(React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: endpoint, headers: headers }),
      query: initial.query,
      variables: initial.variables,
      operationName: initial.operationName,
      defaultEditorToolsVisibility: !!initial.variables,
      shouldPersistHeaders: false,
      onEditQuery: function (v) { syncUrl('query', v); },
      onEditVariables: function (v) { syncUrl('variables', v); },
      onEditOperationName: function (v) { syncUrl('operationName', v); }
    }));
  }

  tokenInput.value = readToken();
  var lastToken = tokenInput.value.trim();
  function tokenChanged() {
    var t = tokenInput.value.trim();
    if (t === lastToken) return;
    lastToken = t;
    saveToken(t);
    render();
  }
  tokenInput.addEventListener('change', tokenChanged);
  tokenInput.addEventListener('keydown', function (e) { if (e.key === 'Enter') tokenChanged(); });
  document.getElementById('token-clear').addEventListener('click', function () {
    tokenInput.value = '';
    tokenChanged();
    tokenInput.focus();
  });
  render();
})();
`;

const APP_CSS = `html, body { height: 100%; margin: 0; overflow: hidden; }
body { display: flex; flex-direction: column; font-family: system-ui, sans-serif; }
#auth { display: flex; align-items: center; gap: 8px; padding: 6px 12px; border-bottom: 1px solid #ddd; font-size: 14px; background: #f7f7f8; }
#auth label { font-weight: 600; white-space: nowrap; }
#auth input { flex: 1; max-width: 40em; padding: 4px 6px; font: inherit; font-family: ui-monospace, monospace; }
#auth .hint { color: #666; font-size: 12px; }
#graphiql { flex: 1; min-height: 0; }
`;

interface AssetSpec {
  /** Content type sent. */
  type: string;
  /** The file inside an installed package ... */
  pkg?: string;
  file?: string;
  /** ... or inline content. */
  content?: string;
}

/** The allow-list: the only names served under the prefix. */
const ASSETS: Record<string, AssetSpec> = {
  'react.production.min.js': { type: JS, pkg: 'react', file: 'umd/react.production.min.js' },
  'react-dom.production.min.js': { type: JS, pkg: 'react-dom', file: 'umd/react-dom.production.min.js' },
  'graphiql.min.js': { type: JS, pkg: 'graphiql', file: 'graphiql.min.js' },
  'graphiql.min.css': { type: CSS, pkg: 'graphiql', file: 'graphiql.min.css' },
  'graphiql.min.js.map': { type: JSON_MAP, pkg: 'graphiql', file: 'graphiql.min.js.map' },
  'graphiql.min.css.map': { type: JSON_MAP, pkg: 'graphiql', file: 'graphiql.min.css.map' },
  'app.js': { type: JS, content: APP_JS },
  'app.css': { type: CSS, content: APP_CSS },
};

interface LoadedAsset {
  type: string;
  body: Buffer;
  gzip?: Buffer;
  /** Short content hash: the `?v=` of the page's links and the ETag. */
  hash: string;
}

const loaded = new Map<string, LoadedAsset>();

function packageDir(pkg: string): string {
  return path.dirname(require.resolve(`${pkg}/package.json`));
}

/** Reads (once) an allow-listed asset; throws when its package is not installed. */
function loadAsset(name: string): LoadedAsset {
  const cached = loaded.get(name);
  if (cached) return cached;
  const spec = ASSETS[name];
  if (!spec) throw new Error(`not a GraphiQL asset: ${name}`);
  const body = spec.content !== undefined ? Buffer.from(spec.content, 'utf8') : fs.readFileSync(path.join(packageDir(spec.pkg!), spec.file!));
  const asset: LoadedAsset = { type: spec.type, body, hash: crypto.createHash('sha256').update(body).digest('hex').slice(0, 16) };
  loaded.set(name, asset);
  return asset;
}

function assetUrl(name: string): string {
  return `${GRAPHIQL_ASSET_PREFIX}/${name}?v=${loadAsset(name).hash}`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/** True for a browser navigation to /graphql (GET that accepts text/html). */
export function wantsGraphiql(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && /text\/html/.test(req.headers.accept ?? '');
}

/** Writes the offline GraphiQL page, whose fetcher posts to `graphqlPath`. */
export function sendGraphiql(res: ServerResponse, graphqlPath: string): void {
  let html: string;
  try {
    html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>bcs-api GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assetUrl('graphiql.min.css')}">
<link rel="stylesheet" href="${assetUrl('app.css')}">
</head>
<body>
<div id="auth">
<label for="token">API token</label>
<input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="paste your token; sent as Authorization: Bearer &lt;token&gt;">
<button id="token-clear" type="button">Clear</button>
<span class="hint">kept in this tab only (sessionStorage)</span>
</div>
<div id="graphiql" data-endpoint="${escapeHtml(graphqlPath)}">Loading GraphiQL…</div>
<script src="${assetUrl('react.production.min.js')}"></script>
<script src="${assetUrl('react-dom.production.min.js')}"></script>
<script src="${assetUrl('graphiql.min.js')}"></script>
<script src="${assetUrl('app.js')}"></script>
</body>
</html>
`;
  } catch (err) {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`GraphiQL is unavailable: its assets are not installed (${(err as Error).message})\n`);
    return;
  }
  const body = Buffer.from(html, 'utf8');
  res.writeHead(200, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-length': body.length });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers });
  res.end(`${text}\n`);
}

/** Static assets the page loads (GraphiQL, React), from node_modules; exact names only. */
export function graphiqlAssetMounts(): Mount[] {
  return [
    {
      prefix: GRAPHIQL_ASSET_PREFIX,
      handler: async (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
        const [pathname = '', query = ''] = (req.url ?? '').split('?', 2);
        const name = pathname.startsWith(`${GRAPHIQL_ASSET_PREFIX}/`) ? pathname.slice(GRAPHIQL_ASSET_PREFIX.length + 1) : '';
        if (!Object.hasOwn(ASSETS, name)) return plain(res, 404, 'not found');
        let asset: LoadedAsset;
        try {
          asset = loadAsset(name);
        } catch (err) {
          return plain(res, 503, `asset unavailable: ${(err as Error).message}`);
        }
        const etag = `"${asset.hash}"`;
        // Links carry the content hash, so a matching ?v= may be cached forever; anything else revalidates.
        const versioned = new URLSearchParams(query).get('v') === asset.hash;
        const headers: Record<string, string | number> = {
          'content-type': asset.type,
          'x-content-type-options': 'nosniff',
          'cache-control': versioned ? 'public, max-age=31536000, immutable' : 'public, max-age=0, must-revalidate',
          etag,
          vary: 'accept-encoding',
          'cross-origin-resource-policy': 'same-origin',
        };
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, headers);
          res.end();
          return;
        }
        let body = asset.body;
        if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && asset.body.length > 1024) {
          asset.gzip ??= zlib.gzipSync(asset.body);
          body = asset.gzip;
          headers['content-encoding'] = 'gzip';
        }
        headers['content-length'] = body.length;
        res.writeHead(200, headers);
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    },
  ];
}
