/**
 * Applies an RbacPlan to one cluster with @kubernetes/client-node: through its stored credentials
 * (direct mode), or through the credential and tunnel its agent brought. Unlike the original (§8.3) the
 * TLS name verified is always `kubernetes`, as the proxy does, and every request has a timeout.
 */
import {
  KubeConfig,
  Observable,
  RbacAuthorizationV1Api,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1ClusterRole,
} from '@kubernetes/client-node';
import type { Duplex } from 'node:stream';
import type { ClusterSecrets } from '../domain/credentials';
import { DialledHttpsAgent } from '../tunnel/dialled-agents';
import { planRbac, type ExistingRbac, type Grant, type RbacPlan } from './plan';
import { LABEL_CRB_USER, LABEL_RB_USER, LABEL_ROLE_TEMPLATE, type TemplateCatalog } from '../domain/role-templates';

export type RbacCredentials = Pick<ClusterSecrets, 'serverAddresses' | 'caCertData' | 'userToken'> & { clusterId?: string };

export interface ApplyOptions {
  /** Per-request timeout; 10 s by default. */
  timeoutMs?: number;
  /** Connections through the cluster's agent tunnel instead of TCP dials (the address is the one the agent registered). */
  dial?: (url: URL) => Duplex;
}

export interface ObjectRef {
  kind: 'ClusterRole' | 'ClusterRoleBinding' | 'RoleBinding';
  name: string;
  namespace?: string;
}

export interface ApplyResult {
  /** The API server address used. */
  server: string;
  rolesCreated: string[];
  rolesUpdated: string[];
  created: ObjectRef[];
  removed: ObjectRef[];
  /** Operations that failed; the others were still attempted. */
  failed: { op: 'create' | 'update' | 'delete'; target: ObjectRef; message: string }[];
}

/** A KubeConfig for one API server address, with the cluster CA, `tls-server-name: kubernetes` and the SA token. */
export function kubeConfigFor(creds: RbacCredentials, server: string): KubeConfig {
  const kc = new KubeConfig();
  const name = creds.clusterId ?? 'cluster';
  kc.loadFromOptions({
    clusters: [{ name, server, caData: Buffer.from(creds.caCertData, 'utf8').toString('base64'), tlsServerName: 'kubernetes', skipTLSVerify: false }],
    users: [{ name: 'bcs-api', token: creds.userToken }],
    contexts: [{ name, cluster: name, user: 'bcs-api' }],
    currentContext: name,
  });
  return kc;
}

const httpCode = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
};

/** A client-node failure as one line: the HTTP code and the apiserver's message when there is one. */
export function errMessage(err: unknown): string {
  const body = (err as { body?: unknown })?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return `${httpCode(err)}: ${parsed.message}`;
    } catch {
      /* not JSON */
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return `${httpCode(err)}: ${String((body as { message: unknown }).message)}`;
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

/** RBAC access to one cluster; `connect` picks the first address that answers. */
export class RbacClient {
  private constructor(
    readonly server: string,
    private readonly api: RbacAuthorizationV1Api,
    private readonly timeoutMs: number,
    /** Set when the cluster is reached through its tunnel: replaces client-node's per-request TCP agent. */
    private readonly agent?: DialledHttpsAgent,
  ) {}

  static async connect(creds: RbacCredentials, opts: ApplyOptions = {}): Promise<{ client: RbacClient; existing: ExistingRbac }> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    if (!creds.serverAddresses.length) throw new Error('cluster has no server addresses');
    let lastErr: unknown;
    for (const server of creds.serverAddresses) {
      const client = new RbacClient(server, kubeConfigFor(creds, server).makeApiClient(RbacAuthorizationV1Api), timeoutMs, opts.dial && tunnelAgent(creds, server, opts.dial));
      try {
        return { client, existing: await client.listOwned() };
      } catch (err) {
        client.close();
        // An HTTP answer (401, 403, ...) means the address works; only transport failures move on.
        if (httpCode(err) !== undefined) throw err;
        lastErr = err;
      }
    }
    throw new Error(`no API server address answered: ${errMessage(lastErr)}`);
  }

  /**
   * Per-request options: an abort signal firing after the timeout. The object-parameter API hands these
   * straight to the observable layer, so the middleware is the observable kind.
   */
  private opts(): ConfigurationOptions<ObservableMiddleware> {
    const ms = this.timeoutMs;
    const timeout: ObservableMiddleware = {
      pre: (ctx: RequestContext) => {
        ctx.setSignal(AbortSignal.timeout(ms));
        // Runs after client-node has set its own agent for the request (authentication comes first).
        if (this.agent) ctx.setAgent(this.agent);
        return new Observable(Promise.resolve(ctx));
      },
      post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
    };
    return { middleware: [timeout], middlewareMergeStrategy: 'append' };
  }

  /** Closes the connections kept for this sync (through a tunnel they hold virtual connections open). */
  close(): void {
    this.agent?.destroy();
  }

  /**
   * Our ClusterRoles, ClusterRoleBindings and RoleBindings (all namespaces), selected by our labels. One
   * after another, so they share one kept-alive connection: in parallel each took a TLS connection of its
   * own, three handshakes per sync (through a tunnel, three virtual connections) for three small lists.
   */
  async listOwned(): Promise<ExistingRbac> {
    const roles = await this.api.listClusterRole({ labelSelector: LABEL_ROLE_TEMPLATE }, this.opts());
    const crbs = await this.api.listClusterRoleBinding({ labelSelector: LABEL_CRB_USER }, this.opts());
    const rbs = await this.api.listRoleBindingForAllNamespaces({ labelSelector: LABEL_RB_USER }, this.opts());
    return { clusterRoles: roles.items, clusterRoleBindings: crbs.items, roleBindings: rbs.items };
  }

  async apply(plan: RbacPlan): Promise<ApplyResult> {
    const result: ApplyResult = { server: this.server, rolesCreated: [], rolesUpdated: [], created: [], removed: [], failed: [] };
    for (const change of plan.ensureRoles) {
      const name = change.role.metadata!.name!;
      const target: ObjectRef = { kind: 'ClusterRole', name };
      try {
        if (change.action === 'create') {
          try {
            await this.api.createClusterRole({ body: change.role }, this.opts());
            result.rolesCreated.push(name);
          } catch (err) {
            if (httpCode(err) !== 409) throw err;
            // Made by the original bcs-api (unlabelled, so not listed): adopt it.
            const current = await this.api.readClusterRole({ name }, this.opts());
            const body: V1ClusterRole = { ...change.role, metadata: { ...current.metadata, labels: { ...(current.metadata?.labels ?? {}), ...change.role.metadata!.labels } } };
            await this.api.replaceClusterRole({ name, body }, this.opts());
            result.rolesUpdated.push(name);
          }
        } else {
          await this.api.replaceClusterRole({ name, body: change.role }, this.opts());
          result.rolesUpdated.push(name);
        }
      } catch (err) {
        result.failed.push({ op: change.action, target, message: errMessage(err) });
      }
    }
    for (const b of plan.create) {
      try {
        if (b.kind === 'ClusterRoleBinding') {
          const made = await this.api.createClusterRoleBinding({ body: b.body }, this.opts());
          result.created.push({ kind: b.kind, name: made.metadata?.name ?? '' });
        } else {
          const made = await this.api.createNamespacedRoleBinding({ namespace: b.namespace, body: b.body }, this.opts());
          result.created.push({ kind: b.kind, name: made.metadata?.name ?? '', namespace: b.namespace });
        }
      } catch (err) {
        const target: ObjectRef = b.kind === 'ClusterRoleBinding' ? { kind: b.kind, name: '(generated)' } : { kind: b.kind, name: '(generated)', namespace: b.namespace };
        result.failed.push({ op: 'create', target, message: errMessage(err) });
      }
    }
    for (const r of plan.remove) {
      const target: ObjectRef = r.kind === 'RoleBinding' ? { kind: r.kind, name: r.name, namespace: r.namespace } : { kind: r.kind, name: r.name };
      try {
        if (r.kind === 'ClusterRoleBinding') await this.api.deleteClusterRoleBinding({ name: r.name }, this.opts());
        else await this.api.deleteNamespacedRoleBinding({ name: r.name, namespace: r.namespace ?? '' }, this.opts());
        result.removed.push(target);
      } catch (err) {
        if (httpCode(err) === 404) continue; // already gone: the goal is met
        result.failed.push({ op: 'delete', target, message: errMessage(err) });
      }
    }
    for (const r of plan.removeRoles) {
      const target: ObjectRef = { kind: 'ClusterRole', name: r.name };
      try {
        await this.api.deleteClusterRole({ name: r.name }, this.opts());
        result.removed.push(target);
      } catch (err) {
        if (httpCode(err) === 404) continue;
        result.failed.push({ op: 'delete', target, message: errMessage(err) });
      }
    }
    return result;
  }
}

/**
 * TLS over the tunnel, verified as a dialled connection is: the cluster CA, server name `kubernetes`.
 * Kept alive for the sync's requests, so one sync opens one or two virtual connections, not one per object.
 */
function tunnelAgent(creds: RbacCredentials, server: string, dial: (url: URL) => Duplex): DialledHttpsAgent {
  const url = new URL(server);
  return new DialledHttpsAgent(() => dial(url), { keepAlive: true, maxSockets: 4, ca: creds.caCertData, servername: 'kubernetes', rejectUnauthorized: true });
}

/** List what is ours, plan against the desired grants, apply. */
export async function syncClusterRbac(
  creds: RbacCredentials,
  grants: readonly Grant[],
  opts: ApplyOptions & { catalog?: TemplateCatalog } = {},
): Promise<{ plan: RbacPlan; result: ApplyResult }> {
  const { client, existing } = await RbacClient.connect(creds, opts);
  try {
    const plan = planRbac(grants, existing, opts.catalog);
    return { plan, result: await client.apply(plan) };
  } finally {
    client.close();
  }
}
