import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Mount, RequestInfo } from '../http/types';
import type { Runtime } from '../runtime';
import { ApiError, classify, ERRCODE, storeUnavailable, type ErrorMapper } from './render';
import type { Call } from './request';
import type { Router } from './router';

export interface Reply {
  status?: number;
  body: unknown;
}

/** One route's code: what it returns on success, and how it names the domain's errors. */
export interface Handler {
  run(call: Call): Promise<Reply>;
  errors?: ErrorMapper;
}

export const handler = (run: Handler['run'], errors?: ErrorMapper): Handler => ({ run, errors });

export interface SurfaceStyle {
  success(res: ServerResponse, reply: Reply): void;
  error(res: ServerResponse, err: ApiError, headers?: Record<string, string>): void;
}

/**
 * Mounts a router under `prefix`: matches the route, gives it a fresh unit of work, and renders the
 * result or error in the surface's style. A store outage is a 503 with `Retry-After`, logged once per
 * outage by the runtime's store health (not per request). Other unexpected failures are logged (path
 * only: query strings may carry access tokens) and answered with the request id, never with their message.
 */
export function surfaceMount(rt: Runtime, prefix: string, router: Router<Handler>, style: SurfaceStyle): Mount {
  return {
    prefix,
    handler: async (req: IncomingMessage, res: ServerResponse, info: RequestInfo) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const rel = url.pathname.slice(prefix.length);
      const method = (req.method ?? 'GET').toUpperCase();
      const m = router.match(method, rel);
      if (m.kind === 'bad-path') return style.error(res, new ApiError(400, 'BAD_REQUEST', ERRCODE.parametersFailed, 'the request path is not validly percent-encoded'));
      if (m.kind === 'none') return style.error(res, new ApiError(404, 'NOT_FOUND', ERRCODE.badRequest, `no route for ${method} ${url.pathname}`));
      if (m.kind === 'method') {
        return style.error(res, new ApiError(405, 'METHOD_NOT_ALLOWED', ERRCODE.badRequest, `${method} is not allowed on ${url.pathname}`), { allow: m.allow.join(', ') });
      }
      const call: Call = { req, info, params: m.params, query: url.searchParams, ctx: rt.context() };
      try {
        const reply = await m.route.handler.run(call);
        style.success(res, reply);
      } catch (err) {
        const known = classify(err, m.route.handler.errors);
        if (known) return style.error(res, known);
        if (rt.storeHealth.report(err)) return style.error(res, storeUnavailable());
        rt.logger.error({ err, requestId: info.requestId, method, path: url.pathname }, 'request failed');
        style.error(res, new ApiError(500, 'INTERNAL_ERROR', ERRCODE.internal, `bcs apiserver internal error (request id ${info.requestId})`));
      }
    },
  };
}
