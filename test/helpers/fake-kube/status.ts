/** metav1.Status bodies shaped like kube-apiserver's, since kubectl prints `Error from server (<reason>): <message>`. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: Record<string, unknown>;
  code: number;
}

const reasons: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'AlreadyExists',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function status(code: number, message: string, reason?: string, details?: Record<string, unknown>): KubeStatus {
  const s: KubeStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: reason ?? reasons[code] ?? '', code };
  if (details) s.details = details;
  return s;
}

export function notFound(resource: string, group: string, name: string): KubeStatus {
  const gr = group ? `${resource}.${group}` : resource;
  return status(404, `${gr} "${name}" not found`, 'NotFound', { name, group, kind: resource });
}

export function alreadyExists(resource: string, group: string, name: string): KubeStatus {
  const gr = group ? `${resource}.${group}` : resource;
  return status(409, `${gr} "${name}" already exists`, 'AlreadyExists', { name, group, kind: resource });
}

export class StatusError extends Error {
  constructor(readonly body: KubeStatus) {
    super(body.message);
  }
}
