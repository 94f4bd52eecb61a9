import DataLoader from 'dataloader';
import { credentialStatuses, registerTokenStatuses, usersByIds, type CredentialStatus, type RegisterTokenStatus } from '../domain/batch';
import type { DomainContext } from '../domain/context';
import { tunnelStatuses, type TunnelStatus } from '../domain/tunnel-credentials';
import type { User } from '../store/entities';
import type { Lean } from '../store/lean';

/** Per-request loaders: one query per field across a whole list, never one per row. */
export interface Loaders {
  user: DataLoader<number, Lean<User> | null>;
  registerTokenStatus: DataLoader<string, RegisterTokenStatus | null>;
  credentialStatus: DataLoader<string, CredentialStatus | null>;
  tunnelStatus: DataLoader<string, TunnelStatus | null>;
}

export function createLoaders(ctx: DomainContext): Loaders {
  return {
    user: new DataLoader((ids) => usersByIds(ctx.em, ids)),
    registerTokenStatus: new DataLoader((ids) => registerTokenStatuses(ctx.em, ids, ctx.now())),
    credentialStatus: new DataLoader((ids) => credentialStatuses(ctx.em, ids)),
    tunnelStatus: new DataLoader((ids) => tunnelStatuses(ctx, ids)),
  };
}
