import type { IncomingMessage } from 'node:http';
import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { authenticate, bearerFrom } from '../domain/auth';
import type { DomainContext, Principal } from '../domain/context';
import { UnauthenticatedError, UnavailableError } from '../errors';
import type { RequestInfo } from '../http/types';
import type { RbacAccess } from '../rbac/access';
import type { Runtime } from '../runtime';
import { STORE_RETRY_AFTER_SECONDS, STORE_UNAVAILABLE_MESSAGE } from '../store/outage';
import { createLoaders, type Loaders } from './loaders';
import { rememberRequestId } from './request-ids';

export type { RbacAccess };

/** Everything a resolver may use for one request; built once per HTTP request and never shared. */
export interface GraphqlContext {
  domain: DomainContext;
  actor: Principal;
  loaders: Loaders;
  request: RequestInfo;
  rbac: RbacAccess;
}

/**
 * Every operation needs a caller, so authentication happens here, once, and a missing or bad token
 * fails the whole request with 401 before anything executes (including introspection). A store that
 * cannot be read fails it with 503 and Retry-After (logged once per outage by the store health).
 */
export async function createGraphqlContext(rt: Runtime, req: IncomingMessage, request: RequestInfo, rbac: RbacAccess): Promise<GraphqlContext> {
  const domain = rt.context();
  try {
    const actor = await authenticate(domain.em, bearerFrom(req.headers.authorization), domain.now());
    return { domain, actor, loaders: createLoaders(domain), request, rbac };
  } catch (err) {
    if (rt.storeHealth.report(err)) {
      throw new GraphQLError(STORE_UNAVAILABLE_MESSAGE, {
        originalError: new UnavailableError(STORE_UNAVAILABLE_MESSAGE),
        extensions: { code: 'UNAVAILABLE', http: { status: 503, headers: new HeaderMap([['retry-after', String(STORE_RETRY_AFTER_SECONDS)]]) } },
      });
    }
    if (!(err instanceof UnauthenticatedError)) {
      rememberRequestId(err, request.requestId);
      throw err;
    }
    // Apollo takes the HTTP status from `extensions.http` of the raw error, before formatError runs.
    throw new GraphQLError(err.message, {
      originalError: err,
      extensions: { code: err.code, http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer']]) } },
    });
  }
}
