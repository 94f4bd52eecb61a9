import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { findDef } from './fake-kube/resources';
import { waitFor } from './wait';
import type { FakeKube, KubeObject } from './fake-kube';

/** RBAC settings for a suite that syncs: the defaults with sync on, plus `patch`. */
export function rbacConfig(patch: Partial<Config['rbac']> = {}): Config['rbac'] {
  return { ...loadConfig({ env: {} }).rbac, syncEnabled: true, ...patch };
}

export const rbacObjects = (fake: FakeKube, resource: 'rolebindings' | 'clusterrolebindings' | 'clusterroles'): KubeObject[] =>
  fake.store.list(findDef('rbac.authorization.k8s.io', resource)!);

/** Bindings in the fake that name `subject` and the ClusterRole `role`. */
export function bindingsFor(fake: FakeKube, resource: 'rolebindings' | 'clusterrolebindings', subject: string, role: string): KubeObject[] {
  return rbacObjects(fake, resource).filter((b) => {
    const o = b as unknown as { roleRef: { name: string }; subjects?: { name: string }[] };
    return o.roleRef.name === role && o.subjects?.some((s) => s.name === subject);
  });
}

/** Sync goes through the cluster: allow more time than the default. */
export const waitUntil = <T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> => waitFor(what, check, timeoutMs, 50);
