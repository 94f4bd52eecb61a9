import https from 'node:https';
import { Counter, Histogram, type Registry } from 'prom-client';
import { loadAdmissionWebhookConfigurations, viewOf } from '../../src/domain/admission-webhooks';
import { UnavailableError } from '../../src/errors';
import type { AdmissionOperation, AdmissionResourceKind, AdmissionWebhookSpec, ChangeKind } from '../../src/store/entities';
import type { Runtime } from '../../src/runtime';
import type { AdmissionOutcome, AdmissionRunner } from './types';

/** A webhook's answer may not exceed this (the gateway's own request body limit is of the same order). */
export const MAX_WEBHOOK_RESPONSE_BYTES = 10 * 1024 * 1024;

const KINDS: readonly string[] = ['application', 'deployment'] satisfies AdmissionResourceKind[];

/** Where a webhook is called: its URL, or `https://<name>.<namespace>:<port><path>` for the service form. */
export function webhookUrl(w: AdmissionWebhookSpec): string {
  if (w.clientConfig.url) return w.clientConfig.url;
  const s = w.clientConfig.service!;
  return `https://${s.name}.${s.namespace}:${s.port}${s.path}`;
}

/** In = the namespace is listed; NotIn = it is not; no selector = every namespace; anything else never matches. */
export function selectorMatches(selector: AdmissionWebhookSpec['namespaceSelector'], namespace: string): boolean {
  if (!selector) return true;
  if (selector.operator === 'In') return selector.values.includes(namespace);
  if (selector.operator === 'NotIn') return !selector.values.includes(namespace);
  return false;
}

interface LoadedWebhook {
  spec: AdmissionWebhookSpec;
  url: string;
  /** The decoded PEM bundle: the only roots trusted for this webhook. */
  ca: string;
}

interface LoadedConfiguration {
  name: string;
  operation: AdmissionOperation;
  kind: AdmissionResourceKind;
  webhooks: LoadedWebhook[];
}

export interface AdmissionWebhookRunnerOptions {
  /**
   * Configurations changed by another process (the API when the proxy runs as a sidecar) are picked
   * up at most this long after they change; changes made in this process apply to the next request.
   */
  refreshMs?: number;
  now?: () => number;
}

class WebhookCallError extends Error {
  constructor(
    readonly kind: 'timeout' | 'transport' | 'status' | 'invalid_response' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

type WebhookMetricLabels = 'configuration' | 'webhook';

/**
 * Runs Mesos admission webhooks over application and deployment writes, fixing the original's weak
 * spots (§14.15): configurations run in name order (not map order), every call has a timeout, TLS is
 * always verified against the configured CA bundle, and a webhook's answer replaces the body only if
 * it is a JSON object of the same kind.
 *
 * Caching: configurations are read from the store into memory. A write in this process publishes a
 * `webhook` change on the ChangeBus, which marks the cache stale so the very next request reloads; the
 * cache is also reloaded when it is older than `refreshMs` (1 s by default). The gateway wires the shared
 * change-feed follower to `invalidate()` instead and uses a long `refreshMs` as a safety net, so
 * requests never wait on a routine reload. Concurrent reloads share one query. If a reload fails,
 * the last good configurations keep being used; with none loaded yet, `admit` throws UnavailableError.
 */
export class AdmissionWebhookRunner implements AdmissionRunner {
  private cache: LoadedConfiguration[] | undefined;
  private loadedAt = 0;
  private stale = true;
  private loading: Promise<LoadedConfiguration[]> | undefined;
  private readonly unsubscribe: () => void;
  private readonly refreshMs: number;
  private readonly now: () => number;
  private readonly calls: Counter<WebhookMetricLabels>;
  private readonly failures: Counter<WebhookMetricLabels | 'reason'>;
  private readonly latency: Histogram<WebhookMetricLabels>;

  constructor(
    private readonly rt: Runtime,
    registry: Registry,
    opts: AdmissionWebhookRunnerOptions = {},
  ) {
    this.refreshMs = opts.refreshMs ?? 1000;
    this.now = opts.now ?? (() => Date.now());
    this.unsubscribe = rt.deps.changes.subscribe((kind: ChangeKind) => {
      if (kind === 'webhook') this.stale = true;
    });
    const registers = [registry];
    // One registry may serve several runners (tests); reuse what is already registered.
    this.calls =
      (registry.getSingleMetric('bcs_api_admission_webhook_calls_total') as Counter<WebhookMetricLabels> | undefined) ??
      new Counter({ name: 'bcs_api_admission_webhook_calls_total', help: 'Admission webhook calls, by configuration and webhook', labelNames: ['configuration', 'webhook'], registers });
    this.failures =
      (registry.getSingleMetric('bcs_api_admission_webhook_failures_total') as Counter<WebhookMetricLabels | 'reason'> | undefined) ??
      new Counter({
        name: 'bcs_api_admission_webhook_failures_total',
        help: 'Failed admission webhook calls (whatever the failure policy), by reason: timeout, transport (connection or TLS), status, invalid_response, too_large',
        labelNames: ['configuration', 'webhook', 'reason'],
        registers,
      });
    this.latency =
      (registry.getSingleMetric('bcs_api_admission_webhook_duration_seconds') as Histogram<WebhookMetricLabels> | undefined) ??
      new Histogram({
        name: 'bcs_api_admission_webhook_duration_seconds',
        help: 'Admission webhook call duration, failures included',
        labelNames: ['configuration', 'webhook'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      });
  }

  /** Forgets the cached configurations (the change feed reported a change made by another process). */
  invalidate(): void {
    this.stale = true;
  }

  /** Stops listening for changes. */
  close(): void {
    this.unsubscribe();
  }

  async admit(operation: 'Create' | 'Update', body: Buffer): Promise<AdmissionOutcome> {
    const original = parseObject(body);
    const kind = original?.['kind'];
    if (!original || typeof kind !== 'string' || !KINDS.includes(kind)) return { allowed: true, body };
    const configurations = (await this.configurations()).filter((c) => c.operation === operation && c.kind === kind);
    if (!configurations.length) return { allowed: true, body };
    // Selectors see the namespace the caller asked for, whatever earlier webhooks did to the body.
    const metadata = original['metadata'];
    const namespace = isObject(metadata) && typeof metadata['namespace'] === 'string' ? metadata['namespace'] : '';
    let current = body;
    for (const configuration of configurations) {
      for (const webhook of configuration.webhooks) {
        if (!selectorMatches(webhook.spec.namespaceSelector, namespace)) continue;
        const labels = { configuration: configuration.name, webhook: webhook.spec.name };
        this.calls.inc(labels);
        const end = this.latency.startTimer(labels);
        try {
          current = await this.call(webhook, current, kind);
        } catch (err) {
          const e = err instanceof WebhookCallError ? err : new WebhookCallError('transport', String(err));
          this.failures.inc({ ...labels, reason: e.kind });
          // The reason goes back to the Mesos caller, so it never names the webhook's address; the log does.
          const fail = webhook.spec.failurePolicy === 'Fail';
          this.rt.logger.warn(
            { configuration: configuration.name, webhook: webhook.spec.name, url: webhook.url, reason: e.message, failurePolicy: webhook.spec.failurePolicy },
            fail ? 'admission webhook failed; failurePolicy Fail, rejecting the request' : 'admission webhook failed; failurePolicy Ignore, continuing with the body unchanged',
          );
          if (fail) return { allowed: false, webhook: webhook.spec.name, reason: e.message };
        } finally {
          end();
        }
      }
    }
    return { allowed: true, body: current };
  }

  /** The cached configurations, reloaded when stale (changed here) or older than refreshMs (maybe changed elsewhere). */
  private async configurations(): Promise<LoadedConfiguration[]> {
    if (this.cache && !this.stale && this.now() - this.loadedAt < this.refreshMs) return this.cache;
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    try {
      return await this.loading;
    } catch (err) {
      if (!this.cache) throw new UnavailableError('cannot load admission webhook configurations', {}, { cause: err });
      if (!this.rt.storeHealth.report(err)) this.rt.logger.warn({ err }, 'cannot reload admission webhook configurations; using the last ones loaded');
      // Try again after another interval rather than on every request.
      this.stale = false;
      this.loadedAt = this.now();
      return this.cache;
    }
  }

  private async load(): Promise<LoadedConfiguration[]> {
    // Cleared before reading, so a change committed during the read marks the result stale again.
    this.stale = false;
    const startedAt = this.now();
    try {
      const rows = await loadAdmissionWebhookConfigurations(this.rt.orm.em.fork());
      const loaded = rows.map((row) => {
        const v = viewOf(row);
        return {
          name: v.name,
          operation: v.operation,
          kind: v.kind,
          webhooks: v.webhooks.map((spec) => ({ spec, url: webhookUrl(spec), ca: Buffer.from(spec.clientConfig.caBundle, 'base64').toString('utf8') })),
        };
      });
      this.cache = loaded;
      this.loadedAt = startedAt;
      return loaded;
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }

  /** One POST of the current body; resolves with the replacement body or throws WebhookCallError. */
  private call(webhook: LoadedWebhook, body: Buffer, kind: string): Promise<Buffer> {
    const timeoutMs = webhook.spec.timeoutSeconds * 1000;
    return new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      const settle = (err: WebhookCallError | undefined, value?: Buffer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(value!);
      };
      const req = https.request(webhook.url, {
        method: 'POST',
        // Only the configured bundle is trusted, and verification is never turned off.
        ca: webhook.ca,
        rejectUnauthorized: true,
        // A fresh connection per call: nothing is kept open to servers that may be reconfigured at any time.
        agent: false,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': String(body.length) },
      });
      // The deadline covers connecting, TLS, the request and the whole response.
      const timer = setTimeout(
        () => settle(new WebhookCallError('timeout', `no complete answer within ${webhook.spec.timeoutSeconds}s (deadline exceeded)`)),
        timeoutMs,
      );
      req.on('error', (err) => settle(new WebhookCallError('transport', `cannot call the webhook: ${err.message}`)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_WEBHOOK_RESPONSE_BYTES) {
            settle(new WebhookCallError('too_large', `webhook answer exceeds ${MAX_WEBHOOK_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => settle(new WebhookCallError('transport', `reading the webhook answer: ${err.message}`)));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          if (res.statusCode !== 200) {
            settle(new WebhookCallError('status', `webhook answered HTTP ${res.statusCode}: ${snippet(text)}`));
            return;
          }
          const doc = parseObject(raw);
          if (!doc) {
            settle(new WebhookCallError('invalid_response', `webhook answer is not a JSON object: ${snippet(text)}`));
            return;
          }
          if (doc['kind'] !== kind) {
            settle(new WebhookCallError('invalid_response', `webhook answered kind ${JSON.stringify(doc['kind'] ?? null)}, expected "${kind}"`));
            return;
          }
          // The validated bytes themselves: re-serialising would round large integers.
          settle(undefined, raw);
        });
      });
      req.end(body);
    });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  if (!body.length) return undefined;
  try {
    const doc: unknown = JSON.parse(body.toString('utf8'));
    return isObject(doc) ? doc : undefined;
  } catch {
    return undefined;
  }
}

/** Enough of an answer to say what went wrong, on one line. */
function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat || '(empty body)';
}
