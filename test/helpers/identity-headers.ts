import type { RecordedRequest } from './fake-kube';

/** Every identity- or source-bearing header name, in any spelling a proxy might let through. */
export const IDENTITY_HEADER = /^(impersonate[-_]|authorization$|x[-_]remote[-_]|x[-_]forwarded[-_]|forwarded$|x[-_]real[-_]ip$|cookie$|audit[-_]id$|proxy[-_])/i;

/** The identity- and source-bearing headers the fake apiserver received: lower-case name → every value. */
export function identitySeen(rec: RecordedRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < rec.rawHeaders.length; i += 2) {
    const name = rec.rawHeaders[i]!.toLowerCase();
    if (IDENTITY_HEADER.test(name)) (out[name] ??= []).push(rec.rawHeaders[i + 1]!);
  }
  return out;
}
