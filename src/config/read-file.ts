import fs from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { ConfigError } from '../errors';
import type { Raw } from './settings';

/** A key written more than once in the same mapping; the last one is used. */
export interface DuplicateKey {
  path: string;
  lines: number[];
}

export interface ConfigFile {
  raw: Raw;
  duplicates: DuplicateKey[];
}

function keyName(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** Walks the document and lists every key that a mapping holds more than once, with its line numbers. */
function findDuplicates(root: Node | null, lines: LineCounter): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  const walk = (node: unknown, path: string): void => {
    if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, `${path}[${i}]`));
      return;
    }
    if (!isMap(node)) return;
    const seen = new Map<string, number[]>();
    for (const pair of node.items) {
      const name = keyName(pair.key);
      const offset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
      const at = offset === undefined ? 0 : lines.linePos(offset).line;
      seen.set(name, [...(seen.get(name) ?? []), at]);
      walk(pair.value, path ? `${path}.${name}` : name);
    }
    for (const [name, at] of seen) if (at.length > 1) out.push({ path: path ? `${path}.${name}` : name, lines: at });
  };
  walk(root, '');
  return out;
}

/**
 * Reads a YAML or JSON config file. A key written twice in one mapping is accepted and the last one wins,
 * as the original's parsers did; each such key is reported with its line numbers. JSON is parsed by
 * JSON.parse (its errors name JSON) and scanned for duplicates through the YAML parser, which reads JSON.
 */
export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`]);
  }
  const isJson = /\.json$/i.test(file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines, prettyErrors: true });
  let parsed: unknown;
  try {
    if (isJson) parsed = JSON.parse(text);
    else {
      if (doc.errors.length) throw doc.errors[0];
      parsed = doc.toJS();
    }
  } catch (err) {
    throw new ConfigError([`config file ${file} is not valid ${isJson ? 'JSON' : 'YAML/JSON'}: ${(err as Error).message}`]);
  }
  if (parsed === null || parsed === undefined) return { raw: {}, duplicates: [] };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([`config file ${file} must hold a mapping of keys, not ${Array.isArray(parsed) ? 'a list' : typeof parsed}`]);
  }
  return { raw: parsed as Raw, duplicates: doc.errors.length ? [] : findDuplicates(doc.contents, lines) };
}
