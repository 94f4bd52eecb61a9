import { sha256Hex } from '../../src/crypto/tokens';
import { ApiToken } from '../../src/store/entities';
import type { Runtime } from '../../src/runtime';
import { SingleFlight } from './single-flight';

/** The authenticated gateway caller, as the proxy caches it. */
export interface ProxyPrincipal {
  userId: number;
  userName: string;
  isSuperUser: boolean;
  groups: string[];
  tokenId: number;
  /** Lookup key of the presented token (its SHA-256), so streams can be re-checked when it changes. */
  tokenDigest: string;
}

export type AuthOutcome =
  | { ok: true; principal: ProxyPrincipal }
  | { ok: false; message: string };

interface Entry {
  /** undefined for tokens that do not authenticate (unknown, revoked, disabled user). */
  principal?: ProxyPrincipal;
  refusal?: string;
  expiresAt: number | null;
  userId?: number;
  loadedAt: number;
}

function outcome(entry: Entry): AuthOutcome {
  if (!entry.principal) return { ok: false, message: entry.refusal ?? 'Unauthorized' };
  if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) return { ok: false, message: `this token has expired for user: ${entry.principal.userName}` };
  return { ok: true, principal: entry.principal };
}

/**
 * Token digest → caller, held in memory so steady-state requests never reach the database. Entries are
 * dropped when the change feed reports the token or its user changed; expiry is checked on every use.
 * Unknown tokens are remembered briefly so a client retrying a bad token cannot hammer the database.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new SingleFlight<Entry>();

  constructor(
    private readonly rt: Runtime,
    private readonly opts = { maxAgeMs: 10 * 60_000, negativeMs: 10_000, maxEntries: 100_000 },
  ) {}

  /**
   * Synchronous when the token is cached, as it is in steady state: the proxy's hot path then creates no
   * promise at all. A miss (or an entry past its age) loads from the store.
   */
  authenticate(token: string | undefined): AuthOutcome | Promise<AuthOutcome> {
    if (!token) return { ok: false, message: 'Unauthorized: no bearer token' };
    // Bound the work done on absurd input before hashing.
    if (token.length > 4096) return { ok: false, message: 'Unauthorized' };
    const digest = sha256Hex(token);
    const entry = this.entries.get(digest);
    const maxAge = entry?.principal ? this.opts.maxAgeMs : this.opts.negativeMs;
    if (!entry || Date.now() - entry.loadedAt > maxAge) return this.load(digest).then((e) => outcome(e));
    return outcome(entry);
  }

  private load(digest: string): Promise<Entry> {
    return this.loads.run(digest, () => this.fetch(digest));
  }

  private async fetch(digest: string): Promise<Entry> {
    const found = await this.rt.orm.em.fork().findOne(ApiToken, { digest }, { populate: ['user'] });
    const now = Date.now();
    let entry: Entry;
    if (!found) entry = { refusal: 'Unauthorized', expiresAt: null, loadedAt: now };
    else {
      const user = found.user.getEntity();
      if (found.revokedAt) entry = { refusal: 'Unauthorized: this token has been revoked', expiresAt: null, userId: user.id, loadedAt: now };
      else if (user.disabledAt) entry = { refusal: `Unauthorized: user ${user.name} is disabled`, expiresAt: null, userId: user.id, loadedAt: now };
      else {
        entry = {
          principal: { userId: user.id, userName: user.name, isSuperUser: user.isSuperUser, groups: [...user.groups], tokenId: found.id, tokenDigest: digest },
          expiresAt: found.expiresAt ? found.expiresAt.getTime() : null,
          userId: user.id,
          loadedAt: now,
        };
      }
    }
    if (this.entries.size >= this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(digest, entry);
    return entry;
  }

  /** Reloads a token's entry from the store: does it still authenticate? (Used to end open streams.) */
  async stillValid(digest: string): Promise<boolean> {
    this.entries.delete(digest);
    const entry = await this.load(digest);
    return Boolean(entry.principal) && (entry.expiresAt === null || entry.expiresAt > Date.now());
  }

  invalidateToken(digest: string): void {
    this.entries.delete(digest);
  }

  invalidateUser(userId: number): void {
    for (const [digest, e] of this.entries) if (e.userId === userId) this.entries.delete(digest);
  }

}
