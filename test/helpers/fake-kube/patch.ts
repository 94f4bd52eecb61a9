import { status, StatusError } from './status';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** RFC 7386 merge patch; strategic-merge patches are treated the same, which suffices for labels and simple fields. */
export function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: { [k: string]: Json } = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/** RFC 6902 add/replace/remove/test, the subset client libraries emit. */
export function jsonPatch(target: Json, ops: { op: string; path: string; value?: Json }[]): Json {
  const doc = structuredClone(target);
  for (const { op, path, value } of ops) {
    const keys = path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop();
    let parent = doc as { [k: string]: Json } | Json[];
    for (const k of keys) {
      const next = (parent as { [k: string]: Json })[k];
      if (next === undefined || next === null || typeof next !== 'object') throw new StatusError(status(422, `jsonpatch ${op} operation does not apply: doc is missing path: "${path}"`, 'Invalid'));
      parent = next as { [k: string]: Json };
    }
    if (last === undefined) throw new StatusError(status(422, 'jsonpatch: empty path', 'Invalid'));
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op === 'add') parent.splice(i, 0, value ?? null);
      else if (op === 'replace') parent[i] = value ?? null;
      else if (op === 'remove') parent.splice(i, 1);
    } else if (op === 'add' || op === 'replace') parent[last] = value ?? null;
    else if (op === 'remove') delete parent[last];
    else if (op === 'test' && JSON.stringify(parent[last]) !== JSON.stringify(value)) throw new StatusError(status(422, `testing value ${path} failed`, 'Invalid'));
  }
  return doc;
}
