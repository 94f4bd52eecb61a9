import { activeGrantSources } from '../../src/domain/rbac-grants';
import { loadCatalog } from '../../src/domain/rbac-templates';
import { allowsWrites } from '../../src/domain/role-templates';
import type { Runtime } from '../../src/runtime';
import { RbacGrant } from '../../src/store/entities';
import type { ProxyPrincipal } from './principal-cache';

interface ClusterWideGrant {
  kind: 'User' | 'Group';
  name: string;
  clusterId: string | null;
  /** The template allows more than get/list/watch. */
  writes: boolean;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Whether a normal user may use the driver passthrough for a cluster: the same grants that become RBAC
 * in Kubernetes clusters, cluster-wide ones only (a namespace grant says nothing about a Mesos cluster).
 * Reading needs any such grant; writing one whose template allows a verb beyond get/list/watch. The
 * grants are held in memory and reloaded after an `rbac` change, so requests do not query the store.
 */
export class GrantAccess {
  private snapshot: Promise<ClusterWideGrant[]> | undefined;

  constructor(private readonly rt: Runtime) {}

  invalidate(): void {
    this.snapshot = undefined;
  }

  async allows(principal: ProxyPrincipal, clusterId: string, method: string): Promise<boolean> {
    const grants = await this.load();
    const write = !READ_METHODS.has(method);
    return grants.some(
      (g) =>
        (g.clusterId === null || g.clusterId === clusterId) &&
        (g.kind === 'User' ? g.name === principal.userName : principal.groups.includes(g.name)) &&
        (!write || g.writes),
    );
  }

  private load(): Promise<ClusterWideGrant[]> {
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

  private async read(): Promise<ClusterWideGrant[]> {
    const em = this.rt.orm.em.fork();
    const [rows, catalog] = await Promise.all([
      em.find(RbacGrant, { scope: { $in: ['cluster', 'all_namespaces'] }, source: { $in: activeGrantSources(this.rt.config.rbac) } }, { fields: ['subjectKind', 'subjectName', 'clusterId', 'template'] }),
      loadCatalog(em),
    ]);
    return rows.map((r) => ({ kind: r.subjectKind, name: r.subjectName, clusterId: r.clusterId ?? null, writes: allowsWrites(catalog.get(r.template) ?? []) }));
  }
}
