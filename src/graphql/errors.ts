import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';
import type { ValidationError as ClassValidatorError } from 'class-validator';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ArgumentValidationError, AuthenticationError, AuthorizationError } from 'type-graphql';
import { isGatewayError, type GatewayError } from '../errors';
import type { RequestInfo } from '../http/types';
import type { Logger } from '../log';
import { isStoreUnavailable, STORE_UNAVAILABLE_MESSAGE } from '../store/outage';

/** The only codes clients ever see in `extensions.code`. */
export type ClientErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'UNAVAILABLE' | 'INTERNAL_SERVER_ERROR';

/**
 * The request being served, so formatError (which Apollo calls without the context) can name the
 * request id that is also in the `x-request-id` header and the logs.
 */
export const requestScope = new AsyncLocalStorage<RequestInfo>();

/** Apollo's codes for a request that is malformed as GraphQL; to clients they are all bad input. */
const REQUEST_ERROR_CODES = new Set([
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** graphql-js and Apollo wrap what a resolver threw, sometimes twice; the innermost error is the real one. */
function rootCause(error: unknown): unknown {
  let e = error;
  while (e instanceof GraphQLError && e.originalError && e.originalError !== e) e = e.originalError;
  return e;
}

/** Domain code names fields as the original REST API spells them (`cluster_type`); GraphQL args are camelCase. */
function graphqlFieldName(field: unknown): unknown {
  return typeof field === 'string' ? field.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()) : field;
}

function firstInvalidField(errors: ClassValidatorError[], prefix = ''): string | undefined {
  const first = errors[0];
  if (!first) return undefined;
  const path = prefix ? `${prefix}.${first.property}` : first.property;
  return first.children?.length ? firstInvalidField(first.children, path) : path;
}

function firstConstraintMessage(errors: ClassValidatorError[]): string | undefined {
  const first = errors[0];
  if (!first) return undefined;
  const own = first.constraints ? Object.values(first.constraints)[0] : undefined;
  return own ?? firstConstraintMessage(first.children ?? []);
}

function shaped(formatted: GraphQLFormattedError, code: ClientErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLFormattedError {
  const { locations, path } = formatted;
  return { message, ...(locations ? { locations } : {}), ...(path ? { path } : {}), extensions: { ...extra, code } };
}

function fromGatewayError(formatted: GraphQLFormattedError, err: GatewayError): GraphQLFormattedError {
  const details = { ...err.details, ...('field' in err.details ? { field: graphqlFieldName(err.details.field) } : {}) };
  // A dependency that is down (store, cluster) is worth a retry: UNAVAILABLE, HTTP 503 with Retry-After (outage-plugin.ts).
  return shaped(formatted, err.code, err.message, details);
}

/**
 * The one place errors are rendered: domain errors keep their code and safe details, type-graphql's
 * auth and validation errors are mapped onto the same vocabulary, and anything else is logged in full
 * and replaced by a generic message carrying the request id (no SQL, no stack).
 */
export function createErrorFormatter(logger: Logger): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const cause = rootCause(error);
    if (isGatewayError(cause)) return fromGatewayError(formatted, cause);
    if (cause instanceof ArgumentValidationError) {
      const errors = cause.extensions.validationErrors;
      return shaped(formatted, 'BAD_USER_INPUT', firstConstraintMessage(errors) ?? 'invalid input', { field: firstInvalidField(errors) });
    }
    // type-graphql says UNAUTHORIZED where the GraphQL convention (and the REST edge) says FORBIDDEN.
    if (cause instanceof AuthorizationError) {
      const field = formatted.path?.[formatted.path.length - 1];
      return shaped(formatted, 'FORBIDDEN', `only super users may access ${field === undefined ? 'this field' : `'${String(field)}'`}`);
    }
    if (cause instanceof AuthenticationError) return shaped(formatted, 'UNAUTHENTICATED', formatted.message);
    // Logged once per outage by the store health (outage-plugin.ts), not once per request.
    if (isStoreUnavailable(cause)) return shaped(formatted, 'UNAVAILABLE', STORE_UNAVAILABLE_MESSAGE);
    const code = formatted.extensions?.code;
    if (cause instanceof GraphQLError && typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
      return shaped(formatted, 'BAD_USER_INPUT', formatted.message, code === 'BAD_USER_INPUT' ? {} : { reason: code });
    }
    const requestId = requestScope.getStore()?.requestId ?? crypto.randomUUID();
    logger.error({ err: cause, requestId, path: formatted.path }, 'GraphQL request failed with an unexpected error');
    return shaped(formatted, 'INTERNAL_SERVER_ERROR', `internal error (request id ${requestId})`, { requestId });
  };
}
