/**
 * How gateway names appear inside clusters. One definition, used by the proxy when it impersonates and
 * by RBAC sync when it writes bindings, so a grant always names the identity the cluster will see.
 */

/** The original's mapping: the first ":" becomes "." (`plain:alice` → `plain.alice`), so `system:x` cannot be named. */
export function kubernetesUserName(gatewayName: string): string {
  return gatewayName.replace(':', '.');
}

/** Names Kubernetes reserves for itself; the gateway never impersonates them and never grants to them. */
export function isReservedKubernetesName(name: string): boolean {
  return /^system:/i.test(name);
}
