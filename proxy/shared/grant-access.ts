import type { V1PolicyRule } from '@kubernetes/client-node';
import { activeGrantSources } from '../../src/domain/rbac-grants';
import { loadCatalog } from '../../src/domain/rbac-templates';
import { allowsWrites } from '../../src/domain/role-templates';
import type { Runtime } from '../../src/runtime';
import { RbacGrant } from '../../src/store/entities';
import type { ProxyPrincipal } from './principal-cache';

/** What a `/bcsapi` request needs: read, manage (anything beyond reading), or a shell in the cluster. */
export type BcsapiAccessLevel = 'read' | 'manage' | 'exec';

interface HeldGrant {
  kind: 'User' | 'Group';
  name: string;
  clusterId: string | null;
  /** null: cluster-wide (`cluster` or `all_namespaces`). */
  namespace: string | null;
  /** The template allows more than get/list/watch. */
  writes: boolean;
  /** The template allows creating `pods/exec`: a shell in the cluster. */
  exec: boolean;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

const allows = (list: string[] | undefined, want: string): boolean => Boolean(list?.some((v) => v === '*' || v === want));
const allowsExec = (rules: readonly V1PolicyRule[]): boolean => rules.some((r) => allows(r.verbs, 'create') && allows(r.resources, 'pods/exec'));

/**
 * Whether a normal user may reach a cluster through the `/bcsapi` passthroughs: the same grants that
 * become RBAC in Kubernetes clusters. Reading needs any grant there, managing one whose template allows
 * a verb beyond get/list/watch, exec one whose template allows creating `pods/exec`. A namespace grant
 * counts only for a request naming that namespace. The grants are held in memory and reloaded after an
 * `rbac` change, so requests do not query the store.
 */
export class GrantAccess {
  private snapshot: Promise<HeldGrant[]> | undefined;

  constructor(private readonly rt: Runtime) {}

  invalidate(): void {
    this.snapshot = undefined;
  }

  /** The driver passthrough's older question: a cluster-wide grant, one that writes for other methods. */
  allows(principal: ProxyPrincipal, clusterId: string, method: string): Promise<boolean> {
    return this.permits(principal, clusterId, undefined, READ_METHODS.has(method) ? 'read' : 'manage');
  }

  async permits(principal: ProxyPrincipal, clusterId: string, namespace: string | undefined, level: BcsapiAccessLevel): Promise<boolean> {
    const grants = await this.load();
    return grants.some(
      (g) =>
        (g.clusterId === null || g.clusterId === clusterId) &&
        (g.namespace === null || (namespace !== undefined && g.namespace === namespace && level !== 'exec')) &&
        (g.kind === 'User' ? g.name === principal.userName : principal.groups.includes(g.name)) &&
        (level === 'read' || (level === 'manage' ? g.writes : g.exec)),
    );
  }

  private load(): Promise<HeldGrant[]> {
    if (!this.snapshot) {
      const loading = this.read();
      this.snapshot = loading;
      // A failed read is not cached: the next request tries again.
      loading.catch(() => {
        if (this.snapshot === loading) this.snapshot = undefined;
      });
    }
    return this.snapshot;
  }

  private async read(): Promise<HeldGrant[]> {
    const em = this.rt.orm.em.fork();
    const [rows, catalog] = await Promise.all([
      em.find(RbacGrant, { source: { $in: activeGrantSources(this.rt.config.rbac) } }, { fields: ['subjectKind', 'subjectName', 'clusterId', 'scope', 'namespace', 'template'] }),
      loadCatalog(em),
    ]);
    return rows.map((r) => {
      const rules = catalog.get(r.template) ?? [];
      return {
        kind: r.subjectKind,
        name: r.subjectName,
        clusterId: r.clusterId ?? null,
        namespace: r.scope === 'namespace' ? (r.namespace ?? '') : null,
        writes: allowsWrites(rules),
        exec: allowsExec(rules),
      };
    });
  }
}
