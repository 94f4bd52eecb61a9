/**
 * How many header lines, and how many characters of names and values, a proxied request may carry.
 * The gateway puts its own fields (credential, impersonation, framing) first upstream, and these caps
 * keep what follows them small: a server in front of an apiserver may keep only the first N lines and
 * drop the rest without a word (Node's http server keeps 2,000) or refuse a large head (nginx's default
 * buffers hold 4 × 8 KiB; Node's own limit is 16 KiB for the whole head). kubectl and client-go send
 * about ten lines; a hundred leaves room for many `--as-group` lines and custom headers.
 */
export const MAX_CLIENT_HEADER_LINES = 100;
export const MAX_CLIENT_HEADER_CHARS = 16 * 1024;

/**
 * Why the request's header lines (every line as sent, HTTP/2 pseudo-headers aside) exceed the budget, or
 * undefined. Counts all the client sent, not only what is forwarded: a request needing more is abusive.
 */
export function overHeaderBudget(rawHeaders: readonly string[]): string | undefined {
  let lines = 0;
  let chars = 0;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    lines += 1;
    chars += name.length + rawHeaders[i + 1]!.length;
  }
  if (lines > MAX_CLIENT_HEADER_LINES) return `the request carries ${lines} header lines; the gateway accepts at most ${MAX_CLIENT_HEADER_LINES}`;
  if (chars > MAX_CLIENT_HEADER_CHARS) return `the request's header names and values take ${chars} bytes; the gateway accepts at most ${MAX_CLIENT_HEADER_CHARS}`;
  return undefined;
}

/**
 * A header name made of digits only ("0", "123": valid tokens, never a real field). Such a name is an
 * array index to JavaScript, and an object lists those before every other key, so in the headers object
 * sent upstream it would jump ahead of the gateway's own fields. Such headers are not forwarded.
 */
export function isIndexLikeName(name: string): boolean {
  const first = name.charCodeAt(0);
  if (!(first >= 48 && first <= 57)) return false;
  for (let i = 1; i < name.length; i += 1) {
    const c = name.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
