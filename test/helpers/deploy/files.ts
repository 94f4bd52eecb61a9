import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The repository root (this file compiles to dist/test/helpers/deploy). */
export const ROOT = path.resolve(__dirname, '../../../..');
export const repoPath = (p: string): string => path.join(ROOT, p);
export const readRepo = (p: string): string => fs.readFileSync(repoPath(p), 'utf8');

/** Every file under docker/, as paths relative to the repository root. */
export function dockerFiles(dir = 'docker'): string[] {
  return fs.readdirSync(repoPath(dir), { withFileTypes: true }).flatMap((e) => {
    const p = path.posix.join(dir, e.name);
    return e.isDirectory() ? dockerFiles(p) : [p];
  });
}

/** YAML documents of a text; a syntax error, a duplicate key or a warning throws, naming the file. */
export function parseYamlDocuments(text: string, name: string): unknown[] {
  return parseAllDocuments(text, { uniqueKeys: true }).map((doc) => {
    const issues = [...doc.errors, ...doc.warnings];
    if (issues.length) throw new Error(`${name}: ${issues.map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

export const yamlDocuments = (file: string): unknown[] => parseYamlDocuments(readRepo(file), file);

export interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** Every Kubernetes manifest under a directory (empty documents skipped). */
export function manifests(dir: string): Manifest[] {
  return dockerFiles(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) => yamlDocuments(file).filter(Boolean).map((doc) => ({ ...(doc as Omit<Manifest, 'file'>), file }) as Manifest));
}
