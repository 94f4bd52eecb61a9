/** Label and field selectors in the apiserver's string syntax, enough for kubectl and client-node list calls. */
type Requirement = (get: (key: string) => string | undefined) => boolean;

function splitTerms(sel: string): string[] {
  // Commas inside `in (a,b)` do not separate requirements.
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of sel) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter(Boolean);
}

function parseTerm(term: string): Requirement {
  let m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) {
    const [, key, op, list] = m;
    const values = new Set(list.split(',').map((v) => v.trim()));
    return op === 'in' ? (get) => values.has(get(key) ?? '\0') : (get) => !values.has(get(key) ?? '\0');
  }
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) {
    const [, key, op, value] = m;
    return op === '!=' ? (get) => get(key) !== value : (get) => get(key) === value;
  }
  if (term.startsWith('!')) return (get) => get(term.slice(1)) === undefined;
  return (get) => get(term) !== undefined;
}

export function matchesSelector(selector: string | null, get: (key: string) => string | undefined): boolean {
  if (!selector) return true;
  return splitTerms(selector).every((t) => parseTerm(t)(get));
}
