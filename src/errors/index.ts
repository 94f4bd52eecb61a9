/**
 * The gateway's one error vocabulary. Domain code throws these; each edge (GraphQL, the original's REST
 * envelopes, the Kubernetes proxy) renders them in its own format, so nothing here knows about HTTP.
 */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

export abstract class GatewayError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra machine-readable detail that is safe to show to the caller (never secrets, never SQL). */
  readonly details: Record<string, unknown>;

  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

export class UnauthenticatedError extends GatewayError {
  readonly code = 'UNAUTHENTICATED';
}

export class ForbiddenError extends GatewayError {
  readonly code = 'FORBIDDEN';
}

/** Bad input from the caller. `field` names what is wrong so every edge can say it. */
export class ValidationError extends GatewayError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message, { field });
  }
}

export class NotFoundError extends GatewayError {
  readonly code = 'NOT_FOUND';
  constructor(
    readonly kind: string,
    readonly key: string,
    message = `${kind} ${key} not found`,
  ) {
    super(message, { kind, key });
  }
}

export class ConflictError extends GatewayError {
  readonly code = 'CONFLICT';
}

/** A dependency (database, cluster, ZooKeeper) cannot serve the request right now. */
export class UnavailableError extends GatewayError {
  readonly code = 'UNAVAILABLE';
}

/** Configuration that cannot be used; raised at start-up with every problem listed. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
