import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { GRAPHIQL_ASSET_PREFIX } from '../../src/http/graphiql';
import { startTestApp, type TestApp } from '../helpers/app';

// The few browser globals the page functions below use (this project compiles without the DOM lib).
declare const document: { querySelector(selector: string): { textContent: string | null } | null };
declare const sessionStorage: { getItem(key: string): string | null };

const CHROMIUM = process.env.BCS_API_TEST_CHROMIUM ?? '/usr/bin/chromium';
const QUERY = '{ viewer { name isSuperUser } }';

function requireChromium(): void {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}; the browser suite does not skip. ` +
        'Install it with: apt-get install -y chromium (or set BCS_API_TEST_CHROMIUM to a Chromium binary)',
    );
  }
}

describe('GraphiQL assets', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('sqlite');
  });
  after(async () => {
    await app?.stop();
  });

  it('serves the page with a strict CSP and only local, allow-listed assets', async () => {
    const res = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /\bstyle=/, 'no inline style');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((ref) => ref !== 'data:,');
    assert.ok(refs.length >= 5, refs.join(', '));
    for (const ref of refs) {
      assert.ok(ref.startsWith(`${GRAPHIQL_ASSET_PREFIX}/`), `${ref} is local`);
      const asset = await fetch(`${app.url}${ref}`);
      assert.equal(asset.status, 200, ref);
      assert.match(asset.headers.get('content-type') ?? '', ref.includes('.css') ? /^text\/css/ : /^text\/javascript/, ref);
      assert.match(asset.headers.get('cache-control') ?? '', /max-age=31536000, immutable/, ref);
      assert.ok((await asset.arrayBuffer()).byteLength > 0, ref);
    }
  });

  it('refuses anything outside the allow-list', async () => {
    for (const p of [
      '/',
      '/package.json',
      '/../package.json',
      '/%2e%2e/graphiql/package.json',
      '/..%2fpackage.json',
      '/graphiql.min.js/../../react/package.json',
      '/constructor',
      '/hasOwnProperty',
      '/react.production.min.js.bak',
      '/react.production.min.js%00',
    ]) {
      const res = await fetch(`${app.url}${GRAPHIQL_ASSET_PREFIX}${p}`);
      await res.arrayBuffer();
      assert.equal(res.status, 404, p);
    }
    const post = await fetch(`${app.url}${GRAPHIQL_ASSET_PREFIX}/app.js`, { method: 'POST' });
    await post.arrayBuffer();
    assert.equal(post.status, 405);
  });

  it('revalidates unversioned URLs and answers If-None-Match with 304', async () => {
    const res = await fetch(`${app.url}${GRAPHIQL_ASSET_PREFIX}/graphiql.min.css`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('cache-control') ?? '', /must-revalidate/);
    const etag = res.headers.get('etag')!;
    const again = await fetch(`${app.url}${GRAPHIQL_ASSET_PREFIX}/graphiql.min.css`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });
});

describe('GraphiQL in headless Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  before(async () => {
    requireChromium();
    app = await startTestApp('sqlite');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('runs a query with the pasted token and loads nothing from other hosts', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    const requests: { url: string; method: string; authorization?: string }[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), authorization: r.headers()['authorization'] }));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
    });

    await page.goto(`${app.url}/graphql?query=${encodeURIComponent(QUERY)}`);
    await page.waitForSelector('.graphiql-execute-button', { timeout: 30_000 });
    await page.fill('#token', app.adminToken);
    await page.press('#token', 'Enter');
    // The query from ?query= is in the editor.
    await page.waitForFunction((q) => document.querySelector('.graphiql-query-editor')?.textContent?.includes(q.slice(2, 12)), QUERY);
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(() => /"name":\s*"admin"/.test(document.querySelector('.graphiql-response')?.textContent ?? ''), undefined, {
      timeout: 30_000,
    });
    const response = (await page.textContent('.graphiql-response')) ?? '';
    assert.match(response, /"isSuperUser":\s*true/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('bcs-api.graphiql.token')), app.adminToken);

    const posts = requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/graphql');
    assert.ok(posts.some((r) => r.authorization === `Bearer ${app.adminToken}`), 'the query carried the pasted token');
    const foreign = requests.filter((r) => !['127.0.0.1', 'localhost', '[::1]'].includes(new URL(r.url).hostname));
    assert.deepEqual(foreign.map((r) => r.url), [], 'no request leaves localhost');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
