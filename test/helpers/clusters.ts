import { createCluster } from '../../src/domain/clusters';
import type { DomainContext } from '../../src/domain/context';
import { reportCredentials } from '../../src/domain/credentials';
import { createRegisterToken } from '../../src/domain/register-tokens';
import type { Cluster } from '../../src/store/entities';
import type { FakeKube } from './fake-kube';

export interface ClusterCreds {
  serverAddresses: string;
  caCertData: string;
  userToken: string;
}

/** The fake apiserver's credentials as its agent would report them (optionally at other addresses). */
export const credsOf = (fake: FakeKube, serverAddresses = fake.url): ClusterCreds => ({ serverAddresses, caCertData: fake.caPem, userToken: fake.token });

/** A k8s cluster registered as an agent would do it: created, a register token issued, credentials reported (unless none given). */
export async function registerCluster(ctx: () => DomainContext, id: string, creds: ClusterCreds): Promise<{ cluster: Cluster; registerToken: string }>;
export async function registerCluster(ctx: () => DomainContext, id: string, creds?: ClusterCreds): Promise<{ cluster: Cluster; registerToken?: string }>;
export async function registerCluster(ctx: () => DomainContext, id: string, creds?: ClusterCreds): Promise<{ cluster: Cluster; registerToken?: string }> {
  const cluster = await createCluster(ctx(), undefined, { id, clusterType: 'k8s', projectId: 'proj' });
  if (!creds) return { cluster };
  const { secret: registerToken } = await createRegisterToken(ctx(), undefined, id);
  await reportCredentials(ctx(), id, { registerToken, ...creds });
  return { cluster, registerToken };
}
