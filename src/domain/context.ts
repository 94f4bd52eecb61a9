import type { EntityManager } from '@mikro-orm/core';
import type { Config } from '../config/config';
import type { Keyring } from '../crypto/keyring';
import type { ApiToken, User } from '../store/entities';
import type { ChangeBus } from './change-bus';

/** Long-lived collaborators of the domain code, built once at start-up. */
export interface DomainDeps {
  keyring: Keyring;
  config: Pick<Config, 'tokens' | 'publicUrl' | 'tls'>;
  now: () => Date;
  changes: ChangeBus;
}

/** Who is calling: the authenticated user and the token they presented. */
export interface Principal {
  user: User;
  token: ApiToken;
}

/** One unit of work: a forked entity manager plus the shared dependencies. Never shared across requests. */
export interface DomainContext extends DomainDeps {
  em: EntityManager;
}
