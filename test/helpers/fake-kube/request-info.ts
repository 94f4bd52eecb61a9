/** What kube-apiserver's RequestInfoFactory derives from a request: the attributes RBAC decides on. */
export interface RequestInfo {
  isResourceRequest: boolean;
  path: string;
  verb: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
}

/** Subresources that open a stream; since KEP-4006 a WebSocket GET on them is authorised as `create`. */
export const connectSubresources = new Set(['exec', 'attach', 'portforward']);

export function requestInfo(method: string, url: URL): RequestInfo {
  const path = url.pathname;
  const info: RequestInfo = { isResourceRequest: false, path, verb: method.toLowerCase(), apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '' };
  let parts = path.split('/').filter(Boolean);
  if (parts[0] === 'api' && parts.length >= 2) {
    info.apiVersion = parts[1];
    parts = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    info.apiGroup = parts[1];
    info.apiVersion = parts[2];
    parts = parts.slice(3);
  } else {
    return info;
  }
  if (!parts.length) return info;
  info.isResourceRequest = true;
  let watchPath = false;
  if (parts[0] === 'watch') {
    watchPath = true;
    parts = parts.slice(1);
  }
  if (parts[0] === 'namespaces' && parts.length > 1) {
    info.namespace = parts[1];
    // `/namespaces/ns1` is the namespace object itself; `/namespaces/ns1/pods` is a namespaced resource.
    if (parts.length > 2 && parts[2] !== 'status' && parts[2] !== 'finalize') parts = parts.slice(2);
  }
  info.resource = parts[0] ?? '';
  info.name = parts[1] ?? '';
  info.subresource = parts[2] ?? '';

  const watchParam = url.searchParams.get('watch');
  const watching = watchPath || watchParam === '1' || watchParam === 'true';
  switch (method) {
    case 'GET':
    case 'HEAD':
      info.verb = watching ? 'watch' : info.name ? 'get' : 'list';
      break;
    case 'POST':
      info.verb = 'create';
      break;
    case 'PUT':
      info.verb = 'update';
      break;
    case 'PATCH':
      info.verb = 'patch';
      break;
    case 'DELETE':
      info.verb = info.name ? 'delete' : 'deletecollection';
      break;
    default:
      info.verb = method.toLowerCase();
  }
  if (connectSubresources.has(info.subresource)) info.verb = 'create';
  return info;
}
