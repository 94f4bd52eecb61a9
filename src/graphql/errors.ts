import crypto from 'node:crypto';
import type { ValidationError as ClassValidatorError } from 'class-validator';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ArgumentValidationError, AuthenticationError, AuthorizationError } from 'type-graphql';
import { isGatewayError, type ErrorCode, type GatewayError } from '../errors';
import type { Logger } from '../log';
import { isStoreUnavailable, STORE_UNAVAILABLE_MESSAGE } from '../store/outage';
import { tokenLimitError, validationBudgetError } from './limits';
import { requestIdOf } from './request-ids';
import { RESPONSE_BOUNDS, truncateMessage, withoutEchoedValue } from './response-bounds';

/**
 * The only codes clients ever see in `extensions.code`: the domain's, and Apollo's for a request that is
 * not a valid GraphQL request (`BAD_REQUEST`: not a GraphQL shape at all; `GRAPHQL_PARSE_FAILED`: a
 * syntax error; `GRAPHQL_VALIDATION_FAILED`: invalid for the schema or over a limit, named in
 * `extensions.limit`). `BAD_USER_INPUT` is a value the operation cannot take (variables, arguments).
 */
export type ClientErrorCode =
  | ErrorCode
  | 'BAD_REQUEST'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'OPERATION_RESOLUTION_FAILURE'
  | 'PERSISTED_QUERY_NOT_SUPPORTED';

/**
 * Apollo's codes for a request it refused, as clients see them: unchanged (so generic GraphQL clients
 * understand them, and Apollo has already set the matching 400), except that persisted queries are off
 * altogether.
 */
const REQUEST_ERROR_CODES: ReadonlyMap<string, ClientErrorCode> = new Map<string, ClientErrorCode>([
  ['BAD_USER_INPUT', 'BAD_USER_INPUT'],
  ['BAD_REQUEST', 'BAD_REQUEST'],
  ['GRAPHQL_PARSE_FAILED', 'GRAPHQL_PARSE_FAILED'],
  ['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_VALIDATION_FAILED'],
  ['OPERATION_RESOLUTION_FAILURE', 'OPERATION_RESOLUTION_FAILURE'],
  ['PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED'],
  ['PERSISTED_QUERY_NOT_SUPPORTED', 'PERSISTED_QUERY_NOT_SUPPORTED'],
]);

/** What a limit refusal (src/graphql/limits.ts) carries besides its code. */
const LIMIT_EXTENSIONS = ['limit', 'max', 'found'] as const;

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

/** Messages of an error and of every error it wraps, outermost first. */
function chainMessages(error: unknown): string[] {
  const messages: string[] = [];
  for (let e = error; e instanceof Error && messages.length < 5; e = e instanceof GraphQLError ? e.originalError : undefined) messages.push(e.message);
  return messages;
}

function shaped(formatted: GraphQLFormattedError, code: ClientErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLFormattedError {
  const { path } = formatted;
  const locations = formatted.locations?.slice(0, RESPONSE_BOUNDS.locations);
  return { message: truncateMessage(message), ...(locations ? { locations } : {}), ...(path ? { path } : {}), extensions: { ...extra, code } };
}

/** The limits graphql-js enforces itself surface as a syntax error (tokens) or a bare abort (validation work). */
function graphqlJsLimit(code: ClientErrorCode, cause: unknown): { message: string; extensions: Record<string, unknown> } | undefined {
  if (!(cause instanceof GraphQLError)) return undefined;
  if (code === 'GRAPHQL_PARSE_FAILED') return tokenLimitError(cause);
  if (code === 'GRAPHQL_VALIDATION_FAILED') return validationBudgetError(cause);
  return undefined;
}

/** A request Apollo refused before executing it: its code, a limit named if one was hit, no input echoed. */
function fromRequestError(formatted: GraphQLFormattedError, error: GraphQLError, cause: unknown, code: ClientErrorCode): GraphQLFormattedError {
  const limit = graphqlJsLimit(code, cause);
  if (limit) return shaped(formatted, 'GRAPHQL_VALIDATION_FAILED', limit.message, limit.extensions);
  if (code === 'BAD_USER_INPUT') return shaped(formatted, code, withoutEchoedValue(formatted.message, chainMessages(error).slice(1)));
  const extra: Record<string, unknown> = {};
  for (const key of LIMIT_EXTENSIONS) if (formatted.extensions?.[key] !== undefined) extra[key] = formatted.extensions[key];
  return shaped(formatted, code, formatted.message, extra);
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
    const requestCode = typeof code === 'string' ? REQUEST_ERROR_CODES.get(code) : undefined;
    if (requestCode && error instanceof GraphQLError) return fromRequestError(formatted, error, cause, requestCode);
    const requestId = requestIdOf(error) ?? crypto.randomUUID();
    logger.error({ err: cause, requestId, path: formatted.path }, 'GraphQL request failed with an unexpected error');
    return shaped(formatted, 'INTERNAL_SERVER_ERROR', `internal error (request id ${requestId})`, { requestId });
  };
}
