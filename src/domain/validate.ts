import { ValidationError } from '../errors';

/** Names: letters, digits and `-_.:@`, as the original's user and cluster ids use them. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/;

export function requireName(field: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ValidationError(field, `field '${field}' is required`);
  const v = value.trim();
  if (v.length > maxLength) throw new ValidationError(field, `field '${field}' must be at most ${maxLength} characters`);
  if (!NAME_RE.test(v)) throw new ValidationError(field, `field '${field}' may contain only letters, digits and - _ . : @, and must start with a letter or digit`);
  return v;
}

export function optionalString(field: string, value: unknown, maxLength: number): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ValidationError(field, `field '${field}' must be a string`);
  if (value.length > maxLength) throw new ValidationError(field, `field '${field}' must be at most ${maxLength} characters`);
  return value;
}

export function requireString(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ValidationError(field, `field '${field}' is required`);
  return value;
}

/** A TTL in seconds: positive, at most `max`. */
export function ttlSeconds(field: string, value: number | undefined | null, fallback: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new ValidationError(field, `field '${field}' must be a positive number of seconds`);
  if (value > max) throw new ValidationError(field, `field '${field}' must be at most ${max} seconds`);
  return value;
}

export function groupsList(field: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ValidationError(field, `field '${field}' must be a list of group names`);
  return value.map((g, i) => {
    const name = requireName(`${field}[${i}]`, g, 128);
    // Kubernetes reserves system: groups (system:masters is cluster-admin); the gateway never grants them.
    if (/^system:/i.test(name)) throw new ValidationError(`${field}[${i}]`, `group '${name}' is reserved by Kubernetes and cannot be assigned`);
    return name;
  });
}
