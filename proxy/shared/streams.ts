import type { ChangeKind } from '../../src/store/entities';
import type { Logger } from '../../src/log';
import type { StoreOutageReporter } from '../../src/store/outage';
import type { PrincipalCache, ProxyPrincipal } from './principal-cache';

interface OpenStream {
  principal: ProxyPrincipal;
  close: () => void;
}

/**
 * Proxied requests in flight (watches, logs -f, exec and port-forward sessions, large bodies) by caller. When the
 * change feed says a token or user changed, their streams are re-checked against the store and closed if
 * the token no longer authenticates: revocation ends sessions already open, not only new requests.
 */
export class OpenStreams {
  private readonly streams = new Set<OpenStream>();

  constructor(
    private readonly principals: PrincipalCache,
    private readonly logger: Logger,
    private readonly storeHealth?: StoreOutageReporter,
  ) {}

  /** Registers a stream; call the returned function when it ends. */
  track(principal: ProxyPrincipal, close: () => void): () => void {
    const stream = { principal, close };
    this.streams.add(stream);
    return () => this.streams.delete(stream);
  }

  get size(): number {
    return this.streams.size;
  }

  onChange(kind: ChangeKind, key: string): void {
    let affected: OpenStream[];
    if (kind === 'token') affected = [...this.streams].filter((s) => s.principal.tokenDigest === key);
    else if (kind === 'user') affected = [...this.streams].filter((s) => String(s.principal.userId) === key);
    else return;
    if (!affected.length) return;
    void this.recheck(affected);
  }

  private async recheck(affected: OpenStream[]): Promise<void> {
    const digests = new Set(affected.map((s) => s.principal.tokenDigest));
    for (const digest of digests) {
      try {
        if (await this.principals.stillValid(digest)) continue;
      } catch (err) {
        // The store cannot say; keep the streams rather than cut sessions on a database blip.
        if (!this.storeHealth?.report(err)) this.logger.warn({ err }, 'could not re-check the token of open streams');
        continue;
      }
      for (const s of affected) {
        if (s.principal.tokenDigest !== digest || !this.streams.has(s)) continue;
        this.streams.delete(s);
        s.close();
      }
      this.logger.info({ tokenId: affected.find((s) => s.principal.tokenDigest === digest)?.principal.tokenId }, 'closed open streams of a token that no longer authenticates');
    }
  }
}
