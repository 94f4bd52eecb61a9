import { X509Certificate } from 'node:crypto';
import { OptimisticLockError, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import {
  AdmissionWebhookConfiguration,
  type AdmissionOperation,
  type AdmissionResourceKind,
  type AdmissionWebhookSpec,
  type NamespaceSelectorOperator,
  type WebhookFailurePolicy,
} from '../store/entities';
import { requireSuperUser } from './authorize';
import { commitWithChange } from './changes';
import type { DomainContext, Principal } from './context';
import { requireName } from './validate';

export const ADMISSION_OPERATIONS: readonly AdmissionOperation[] = ['Create', 'Update'];
export const ADMISSION_KINDS: readonly AdmissionResourceKind[] = ['application', 'deployment'];
export const FAILURE_POLICIES: readonly WebhookFailurePolicy[] = ['Fail', 'Ignore'];
export const SELECTOR_OPERATORS: readonly NamespaceSelectorOperator[] = ['In', 'NotIn'];
/** The original's scheduler kept every configuration in this namespace. */
export const DEFAULT_WEBHOOK_NAMESPACE = 'bkbcs';
export const DEFAULT_TIMEOUT_SECONDS = 10;
export const MAX_TIMEOUT_SECONDS = 30;
export const MAX_WEBHOOKS = 32;

/** One webhook as a caller describes it; everything but the name and the CA may be left to defaults. */
export interface WebhookInput {
  name?: unknown;
  failurePolicy?: unknown;
  clientConfig?: {
    url?: unknown;
    service?: { name?: unknown; namespace?: unknown; port?: unknown; path?: unknown } | null;
    caBundle?: unknown;
  } | null;
  namespaceSelector?: { operator?: unknown; values?: unknown } | null;
  timeoutSeconds?: unknown;
}

export interface AdmissionWebhookConfigurationInput {
  name: unknown;
  namespace?: unknown;
  operation: unknown;
  kind: unknown;
  webhooks: unknown;
  labels?: unknown;
  annotations?: unknown;
  apiVersion?: unknown;
}

/** Fields left undefined keep their stored value. */
export type AdmissionWebhookConfigurationPatch = Partial<Omit<AdmissionWebhookConfigurationInput, 'name'>>;

/** The stored configuration with its JSON columns decoded. */
export interface AdmissionWebhookConfigurationView {
  id: number;
  name: string;
  namespace: string;
  operation: AdmissionOperation;
  kind: AdmissionResourceKind;
  webhooks: AdmissionWebhookSpec[];
  labels: Record<string, string> | null;
  annotations: Record<string, string> | null;
  apiVersion: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export function viewOf(row: AdmissionWebhookConfiguration): AdmissionWebhookConfigurationView {
  return {
    id: row.id,
    name: row.name,
    namespace: row.namespace,
    operation: row.operation,
    kind: row.resourceKind,
    webhooks: JSON.parse(row.webhooks) as AdmissionWebhookSpec[],
    labels: row.labels ? (JSON.parse(row.labels) as Record<string, string>) : null,
    annotations: row.annotations ? (JSON.parse(row.annotations) as Record<string, string>) : null,
    apiVersion: row.apiVersion ?? null,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

// ---------------------------------------------------------------------------------------------------
// Validation. Field paths follow the original's JSON (`admissionWebhooks[0].clientConfig.caBundle`).

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback?: T): T {
  if ((value === undefined || value === null || value === '') && fallback !== undefined) return fallback;
  if (typeof value === 'string') {
    const hit = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
    if (hit) return hit;
  }
  throw new ValidationError(field, `field '${field}' must be one of ${allowed.join(', ')} (got ${JSON.stringify(value ?? null)})`);
}

/** DNS-1123 label: what a Kubernetes-style service or namespace name may be. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function dnsLabel(field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(field, `field '${field}' is required`);
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw new ValidationError(field, `field '${field}' must be a DNS label (lower-case letters, digits and '-', at most 63 characters)`);
  }
  return value;
}

/** Decodes a base64 PEM bundle and parses every certificate in it; the webhook's TLS trusts exactly these. */
export function parseCaBundle(field: string, value: unknown): X509Certificate[] {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ValidationError(field, `field '${field}' is required: the base64-encoded PEM CA certificate(s) the webhook's serving certificate chains to`);
  }
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw new ValidationError(field, `field '${field}' must be base64 (of PEM certificates)`);
  }
  const pem = Buffer.from(compact, 'base64').toString('utf8');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new ValidationError(field, `field '${field}' must decode to PEM certificates (no BEGIN CERTIFICATE block found)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new ValidationError(field, `field '${field}' certificate ${i + 1} is not a valid X.509 certificate: ${(err as Error).message}`);
    }
  });
}

function timeoutSeconds(field: string, value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_TIMEOUT_SECONDS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_SECONDS) {
    throw new ValidationError(field, `field '${field}' must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}`);
  }
  return value;
}

function clientConfig(field: string, value: WebhookInput['clientConfig']): AdmissionWebhookSpec['clientConfig'] {
  if (!value || typeof value !== 'object') throw new ValidationError(field, `field '${field}' is required`);
  parseCaBundle(`${field}.caBundle`, value.caBundle);
  const caBundle = (value.caBundle as string).replace(/\s+/g, '');
  const hasUrl = value.url !== undefined && value.url !== null && value.url !== '';
  const hasService = value.service !== undefined && value.service !== null;
  if (hasUrl === hasService) throw new ValidationError(`${field}.url`, `field '${field}' needs exactly one of 'url' and 'service'`);
  if (hasUrl) {
    const f = `${field}.url`;
    if (typeof value.url !== 'string') throw new ValidationError(f, `field '${f}' must be a string`);
    let url: URL;
    try {
      url = new URL(value.url);
    } catch {
      throw new ValidationError(f, `field '${f}' is not a valid URL`);
    }
    if (url.protocol !== 'https:') throw new ValidationError(f, `field '${f}' must be an https URL (webhooks are always called over verified TLS)`);
    if (url.username || url.password) throw new ValidationError(f, `field '${f}' must not contain credentials`);
    if (url.hash) throw new ValidationError(f, `field '${f}' must not contain a fragment`);
    return { url: url.toString(), caBundle };
  }
  const s = value.service!;
  const port = s.port === undefined || s.port === null ? 443 : s.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(`${field}.service.port`, `field '${field}.service.port' must be a port number (1-65535)`);
  }
  const path = s.path === undefined || s.path === null || s.path === '' ? '/' : s.path;
  if (typeof path !== 'string' || !path.startsWith('/') || /[\s?#]/.test(path)) {
    throw new ValidationError(`${field}.service.path`, `field '${field}.service.path' must be a path starting with '/' (no query or fragment)`);
  }
  return {
    service: {
      name: dnsLabel(`${field}.service.name`, s.name),
      namespace: dnsLabel(`${field}.service.namespace`, s.namespace),
      port,
      path,
    },
    caBundle,
  };
}

function namespaceSelector(field: string, value: WebhookInput['namespaceSelector']): AdmissionWebhookSpec['namespaceSelector'] {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') throw new ValidationError(field, `field '${field}' must be an object`);
  const operator = oneOf(`${field}.operator`, value.operator, SELECTOR_OPERATORS);
  const values = value.values ?? [];
  if (!Array.isArray(values) || values.some((v) => typeof v !== 'string' || v === '')) {
    throw new ValidationError(`${field}.values`, `field '${field}.values' must be a list of namespace names`);
  }
  return { operator, values: [...new Set(values as string[])] };
}

export function validateWebhooks(value: unknown): AdmissionWebhookSpec[] {
  const field = 'admissionWebhooks';
  if (!Array.isArray(value) || value.length === 0) throw new ValidationError(field, `field '${field}' must list at least one webhook`);
  if (value.length > MAX_WEBHOOKS) throw new ValidationError(field, `field '${field}' may list at most ${MAX_WEBHOOKS} webhooks`);
  const seen = new Set<string>();
  return value.map((raw: unknown, i) => {
    const f = `${field}[${i}]`;
    if (!raw || typeof raw !== 'object') throw new ValidationError(f, `field '${f}' must be an object`);
    const w = raw as WebhookInput;
    const name = requireName(`${f}.name`, w.name, 253);
    if (seen.has(name)) throw new ValidationError(`${f}.name`, `field '${f}.name': webhook name '${name}' is used twice in this configuration`);
    seen.add(name);
    const spec: AdmissionWebhookSpec = {
      name,
      failurePolicy: oneOf(`${f}.failurePolicy`, w.failurePolicy, FAILURE_POLICIES, 'Fail'),
      clientConfig: clientConfig(`${f}.clientConfig`, w.clientConfig),
      timeoutSeconds: timeoutSeconds(`${f}.timeoutSeconds`, w.timeoutSeconds),
    };
    const selector = namespaceSelector(`${f}.namespaceSelector`, w.namespaceSelector);
    if (selector) spec.namespaceSelector = selector;
    return spec;
  });
}

function stringMap(field: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(field, `field '${field}' must be an object of strings`);
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (k === '' || typeof v !== 'string') throw new ValidationError(field, `field '${field}' must map non-empty keys to strings (bad key ${JSON.stringify(k)})`);
  }
  return entries.length ? JSON.stringify(Object.fromEntries(entries)) : null;
}

function namespaceOf(value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_WEBHOOK_NAMESPACE;
  return dnsLabel('metadata.namespace', value);
}

function apiVersionOf(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > 64) throw new ValidationError('apiVersion', "field 'apiVersion' must be a string of at most 64 characters");
  return value;
}

// ---------------------------------------------------------------------------------------------------
// Use cases. Reads and writes are for super users only.

function conflictFor(operation: AdmissionOperation, kind: AdmissionResourceKind): ConflictError {
  return new ConflictError(`an admission webhook configuration for ${operation} ${kind} already exists; there may be only one per operation and kind`, {
    operation,
    kind,
  });
}

/** Before flushing, so the caller gets a message naming what collides; the unique indexes still decide races. */
async function checkUnique(em: EntityManager, name: string | undefined, operation: AdmissionOperation, kind: AdmissionResourceKind, selfId?: number): Promise<void> {
  const others = await em.find(
    AdmissionWebhookConfiguration,
    { $or: [...(name ? [{ name }] : []), { operation, resourceKind: kind }], ...(selfId ? { id: { $ne: selfId } } : {}) },
    { fields: ['id', 'name', 'operation', 'resourceKind'] },
  );
  if (name && others.some((o) => o.name === name)) throw new ConflictError(`admission already exist: ${name}`, { name });
  if (others.length) throw conflictFor(operation, kind);
}

async function flushTranslating(ctx: DomainContext, key: string, row: AdmissionWebhookConfiguration): Promise<void> {
  try {
    await commitWithChange(ctx, 'webhook', key);
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) {
      // A concurrent writer won the race between the check above and this insert.
      if (/name/.test(err.message) && !/resource_kind/.test(err.message)) throw new ConflictError(`admission already exist: ${row.name}`, { name: row.name });
      throw conflictFor(row.operation, row.resourceKind);
    }
    if (err instanceof OptimisticLockError) {
      throw new ConflictError(`admission webhook configuration ${key} was changed concurrently; read it again and retry`, { name: key });
    }
    throw err;
  }
}

export async function createAdmissionWebhookConfiguration(
  ctx: DomainContext,
  actor: Principal,
  input: AdmissionWebhookConfigurationInput,
): Promise<AdmissionWebhookConfigurationView> {
  requireSuperUser(actor, 'create admission webhook configurations');
  const row = new AdmissionWebhookConfiguration();
  row.name = requireName('metadata.name', input.name, 128);
  row.namespace = namespaceOf(input.namespace);
  row.operation = oneOf('resourcesRef.operation', input.operation, ADMISSION_OPERATIONS);
  row.resourceKind = oneOf('resourcesRef.kind', input.kind, ADMISSION_KINDS);
  row.webhooks = JSON.stringify(validateWebhooks(input.webhooks));
  row.labels = stringMap('metadata.labels', input.labels);
  row.annotations = stringMap('metadata.annotations', input.annotations);
  row.apiVersion = apiVersionOf(input.apiVersion);
  row.createdAt = ctx.now();
  row.updatedAt = row.createdAt;
  await checkUnique(ctx.em, row.name, row.operation, row.resourceKind);
  ctx.em.persist(row);
  await flushTranslating(ctx, row.name, row);
  return viewOf(row);
}

async function findRow(ctx: DomainContext, name: string): Promise<AdmissionWebhookConfiguration> {
  if (typeof name !== 'string' || name === '') throw new ValidationError('name', "field 'name' is required");
  const row = await ctx.em.findOne(AdmissionWebhookConfiguration, { name });
  if (!row) throw new NotFoundError('admission webhook configuration', name);
  return row;
}

export async function getAdmissionWebhookConfiguration(ctx: DomainContext, actor: Principal, name: string): Promise<AdmissionWebhookConfigurationView> {
  requireSuperUser(actor, 'read admission webhook configurations');
  return viewOf(await findRow(ctx, name));
}

/** All configurations, ordered by name (a small table: one per operation and kind). */
export async function listAdmissionWebhookConfigurations(ctx: DomainContext, actor: Principal): Promise<AdmissionWebhookConfigurationView[]> {
  requireSuperUser(actor, 'list admission webhook configurations');
  return (await loadAdmissionWebhookConfigurations(ctx.em)).map(viewOf);
}

/** For the runner: every configuration, ordered by name, no authorization (it is not a caller-facing read). */
export async function loadAdmissionWebhookConfigurations(em: EntityManager): Promise<AdmissionWebhookConfiguration[]> {
  return em.find(AdmissionWebhookConfiguration, {}, { orderBy: { name: 'asc' } });
}

/**
 * Changes the given fields. `expectedVersion` (when given) must equal the stored version, else
 * CONFLICT; either way the UPDATE itself is conditional on the version it read, so of two concurrent
 * writers exactly one succeeds and the other gets CONFLICT instead of silently overwriting.
 */
export async function updateAdmissionWebhookConfiguration(
  ctx: DomainContext,
  actor: Principal,
  name: string,
  patch: AdmissionWebhookConfigurationPatch,
  expectedVersion?: number | null,
): Promise<AdmissionWebhookConfigurationView> {
  requireSuperUser(actor, 'update admission webhook configurations');
  const row = await findRow(ctx, name);
  if (expectedVersion !== undefined && expectedVersion !== null && row.version !== expectedVersion) {
    throw new ConflictError(`admission webhook configuration ${name} is at version ${row.version}, not ${expectedVersion}; read it again and retry`, {
      name,
      version: row.version,
    });
  }
  // Everything is validated and checked before the row is touched: a query on a dirty entity would
  // auto-flush it early (and outside the change event's transaction).
  const next = {
    namespace: patch.namespace !== undefined ? namespaceOf(patch.namespace) : row.namespace,
    operation: patch.operation !== undefined && patch.operation !== null ? oneOf('resourcesRef.operation', patch.operation, ADMISSION_OPERATIONS) : row.operation,
    resourceKind: patch.kind !== undefined && patch.kind !== null ? oneOf('resourcesRef.kind', patch.kind, ADMISSION_KINDS) : row.resourceKind,
    webhooks: patch.webhooks !== undefined && patch.webhooks !== null ? JSON.stringify(validateWebhooks(patch.webhooks)) : row.webhooks,
    labels: patch.labels !== undefined ? stringMap('metadata.labels', patch.labels) : row.labels,
    annotations: patch.annotations !== undefined ? stringMap('metadata.annotations', patch.annotations) : row.annotations,
    apiVersion: patch.apiVersion !== undefined ? apiVersionOf(patch.apiVersion) : row.apiVersion,
  };
  if (next.operation !== row.operation || next.resourceKind !== row.resourceKind) {
    await checkUnique(ctx.em, undefined, next.operation, next.resourceKind, row.id);
  }
  Object.assign(row, next);
  row.updatedAt = ctx.now();
  await flushTranslating(ctx, name, row);
  return viewOf(row);
}

/** Deletes and returns the configuration as it was. */
export async function deleteAdmissionWebhookConfiguration(ctx: DomainContext, actor: Principal, name: string): Promise<AdmissionWebhookConfigurationView> {
  requireSuperUser(actor, 'delete admission webhook configurations');
  const row = await findRow(ctx, name);
  const view = viewOf(row);
  ctx.em.remove(row);
  await flushTranslating(ctx, name, row);
  return view;
}
