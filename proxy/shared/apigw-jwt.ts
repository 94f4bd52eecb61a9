import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { sha256Hex } from '../../src/crypto/tokens';
import { User } from '../../src/store/entities';
import type { Runtime } from '../../src/runtime';
import type { AuthOutcome, ProxyPrincipal } from './principal-cache';
import { SingleFlight } from './single-flight';

/** The API gateway signs with RSA; which of the two digests it uses is its choice. */
const ALGORITHMS = ['RS256', 'RS512'];
/** Leeway for the gateway's clock against ours when checking `exp` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 5;
const MAX_JWT_LENGTH = 16 * 1024;

interface Verified {
  userName: string;
  expiresAt: number;
}

interface UserEntry {
  principal?: ProxyPrincipal;
  refusal?: string;
  userId?: number;
  loadedAt: number;
}

function refusalOf(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'Unauthorized: the X-Bkapi-JWT has expired';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'Unauthorized: the X-Bkapi-JWT signature does not verify with bkiam_auth.apigw_rsa_file';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return `Unauthorized: the X-Bkapi-JWT must be signed with ${ALGORITHMS.join(' or ')}`;
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `Unauthorized: the X-Bkapi-JWT claim ${err.claim} is not valid (${err.reason})`;
  return 'Unauthorized: the X-Bkapi-JWT is not a valid signed token';
}

/**
 * The BlueKing API gateway's signed JWT (`X-Bkapi-JWT`): signature and expiry checked with the
 * configured public key, the user taken from `user.username` and matched exactly to a gateway user.
 * A verified JWT is remembered until it expires (bounded), and users by name like the token cache
 * remembers tokens: dropped when the change feed reports the user changed, so disabling a user ends
 * their JWT access as it ends their tokens'.
 */
export class ApigwJwt {
  private readonly key: KeyObject;
  private readonly verified = new Map<string, Verified>();
  private readonly users = new Map<string, UserEntry>();
  private readonly loads = new SingleFlight<UserEntry>();

  constructor(
    private readonly rt: Runtime,
    pem: string,
    private readonly opts = { maxEntries: 10_000, userMaxAgeMs: 10 * 60_000, unknownUserMs: 10_000 },
  ) {
    this.key = createPublicKey(pem);
  }

  async authenticate(jwt: string): Promise<AuthOutcome> {
    if (jwt.length > MAX_JWT_LENGTH) return { ok: false, message: 'Unauthorized: the X-Bkapi-JWT is too long' };
    const digest = sha256Hex(jwt);
    let claims = this.verified.get(digest);
    if (claims && claims.expiresAt <= Date.now()) {
      this.verified.delete(digest);
      claims = undefined;
    }
    if (!claims) {
      try {
        const { payload } = await jwtVerify(jwt, this.key, { algorithms: ALGORITHMS, requiredClaims: ['exp'], clockTolerance: CLOCK_TOLERANCE_SECONDS });
        const user = payload['user'];
        const userName = user && typeof user === 'object' ? (user as Record<string, unknown>)['username'] : undefined;
        if (typeof userName !== 'string' || !userName) return { ok: false, message: 'Unauthorized: the X-Bkapi-JWT names no user.username' };
        claims = { userName, expiresAt: payload.exp! * 1000 };
      } catch (err) {
        return { ok: false, message: refusalOf(err) };
      }
      if (this.verified.size >= this.opts.maxEntries) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(digest, claims);
    }
    const entry = await this.user(claims.userName);
    if (!entry.principal) return { ok: false, message: entry.refusal ?? 'Unauthorized' };
    return { ok: true, principal: { ...entry.principal, tokenDigest: `jwt:${digest}` } };
  }

  private user(name: string): UserEntry | Promise<UserEntry> {
    const entry = this.users.get(name);
    const maxAge = entry?.principal ? this.opts.userMaxAgeMs : this.opts.unknownUserMs;
    if (entry && Date.now() - entry.loadedAt <= maxAge) return entry;
    return this.loads.run(name, () => this.fetch(name));
  }

  private async fetch(name: string): Promise<UserEntry> {
    const user = await this.rt.orm.em.fork().findOne(User, { name });
    const now = Date.now();
    let entry: UserEntry;
    // Exact match: the database's collation may compare without regard to case; the gateway's names do not.
    if (!user || user.name !== name) entry = { refusal: `Unauthorized: the X-Bkapi-JWT user ${JSON.stringify(name.slice(0, 128))} is not a user of this gateway`, loadedAt: now };
    else if (user.disabledAt) entry = { refusal: `Unauthorized: user ${user.name} is disabled`, userId: user.id, loadedAt: now };
    else entry = { principal: { userId: user.id, userName: user.name, isSuperUser: user.isSuperUser, groups: [...user.groups], tokenId: 0, tokenDigest: '' }, userId: user.id, loadedAt: now };
    if (this.users.size >= this.opts.maxEntries) this.users.delete(this.users.keys().next().value!);
    this.users.set(name, entry);
    return entry;
  }

  invalidateUser(userId: number): void {
    for (const [name, e] of this.users) if (e.userId === userId) this.users.delete(name);
  }

  /** A user created after an unknown-user refusal is found at once, not after the refusal ages out. */
  invalidateUnknownUsers(): void {
    for (const [name, e] of this.users) if (e.userId === undefined) this.users.delete(name);
  }
}
