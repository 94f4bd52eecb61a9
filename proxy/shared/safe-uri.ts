/**
 * The upstream-relative URI of a passthrough (`/bcsapi/v4/<surface>/{uri}` → `<prefix>{uri}`): no dot
 * segments, encoded separators or control characters, so it cannot leave the prefix it is appended to.
 * Returns the URI unchanged (query included), or undefined when it is refused.
 */
export function safeUri(rest: string): string | undefined {
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  for (const seg of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      return undefined;
    }
    if (decoded === '.' || decoded === '..' || (/[/\\]/.test(decoded) && decoded !== seg) || /[\u0000-\u001f]/.test(decoded)) return undefined;
  }
  return rest;
}
