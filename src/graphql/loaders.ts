import { credentialStatuses, registerTokenStatuses, usersByIds, type CredentialStatus, type RegisterTokenStatus } from '../domain/batch';
import type { DomainContext } from '../domain/context';
import { tunnelStatuses, type TunnelStatus } from '../domain/tunnel-credentials';
import type { User } from '../store/entities';
import type { Lean } from '../store/lean';
import { PrefetchLoader } from './prefetch-loader';

/** Per-request loaders: one query per field across a whole list, never one per row. */
export interface Loaders {
  user: PrefetchLoader<number, Lean<User> | null>;
  registerTokenStatus: PrefetchLoader<string, RegisterTokenStatus | null>;
  credentialStatus: PrefetchLoader<string, CredentialStatus | null>;
  tunnelStatus: PrefetchLoader<string, TunnelStatus | null>;
}

export function createLoaders(ctx: DomainContext): Loaders {
  return {
    user: new PrefetchLoader((ids) => usersByIds(ctx.em, ids)),
    registerTokenStatus: new PrefetchLoader((ids) => registerTokenStatuses(ctx.em, ids, ctx.now())),
    credentialStatus: new PrefetchLoader((ids) => credentialStatuses(ctx.em, ids)),
    tunnelStatus: new PrefetchLoader((ids) => tunnelStatuses(ctx, ids)),
  };
}
