import { randomBytes, randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { generateCerts } from './certs';
import { defaultCommands, type Command } from './commands';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo } from './discovery';
import { chooseExecProtocol, execParams, serveWebSocketExec } from './exec-websocket';
import { chooseSpdyProtocol, serveRawSpdy, serveSpdyExec, serveSpdyPortForward, serveTunneledPortForward, TUNNELED_PORT_FORWARD } from './exec-spdy';
import { FaultSet, upgradeKind, type Fault, type FaultAction, type FaultMatch, type UpgradeKind } from './faults';
import { writeKubeconfig, type KubeconfigOptions } from './kubeconfig';
import { LogBook } from './logs';
import { jsonPatch, mergePatch } from './patch';
import { decodeReviewSpec } from './protobuf';
import { defaultRbacObjects, forbidden, RbacAuthorizer, type PolicyRule, type UserInfo } from './rbac';
import { connectSubresources, requestInfo, type RequestInfo } from './request-info';
import { apiVersionOf, defForObject, findDef, type KubeObject, type ResourceDef, Store, type WatchEventType } from './resources';
import { status, StatusError, type KubeStatus } from './status';
import { serveWatch } from './watch';

export interface RecordedRequest {
  method: string;
  /** Path and query exactly as received. */
  url: string;
  /**
   * `req.rawHeaders`: name/value pairs in arrival order, original case (HTTP/2 sends lower case),
   * duplicates kept. HTTP/2 pseudo-headers (`:method`, `:path`, …) are left out: they are not headers.
   */
  rawHeaders: string[];
  /** '2.0' when the request came over the HTTP/2 session, '1.1' otherwise (upgrades always). */
  httpVersion: string;
  upgrade: UpgradeKind;
  /** Who the request ran as, once authenticated (after impersonation). */
  user?: UserInfo;
  /** Every value of a header, matched case-insensitively, in arrival order. */
  header(name: string): string[];
}

export interface OpenStreams {
  watch: number;
  log: number;
  exec: number;
}

export interface FakeKubeOptions {
  /** The service-account token the fake accepts; random by default. */
  token?: string;
  /**
   * 'h2' (default): offers HTTP/2 and HTTP/1.1 over ALPN, as kube-apiserver does; upgrades still
   * arrive over HTTP/1.1. 'http1': HTTP/1.1 only, for clients that must fall back.
   */
  protocols?: 'h2' | 'http1';
  /** SETTINGS_MAX_CONCURRENT_STREAMS this fake announces (kube-apiserver's default is Go's 250). */
  maxConcurrentStreams?: number;
  /**
   * Keep a log of every request (default true). The benchmark turns it off: hundreds of thousands of
   * records would slow this process's garbage collection and so whichever proxy is measured last.
   */
  recordRequests?: boolean;
}

const SA_USERNAME = 'system:serviceaccount:kube-system:bcs-gateway';
const MAX_BODY = 4 * 1024 * 1024;
const json = (v: unknown) => JSON.stringify(v);
const rbacGroup = 'rbac.authorization.k8s.io';

/** Every value of each header, lower-cased names; what `headersDistinct` is on HTTP/1.1 (HTTP/2 requests lack it). */
function distinctHeaders(rawHeaders: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) (out[rawHeaders[i]!.toLowerCase()] ??= []).push(rawHeaders[i + 1]!);
  return out;
}

function headerValues(rawHeaders: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === name.toLowerCase()) out.push(rawHeaders[i + 1]);
  return out;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new StatusError(status(413, 'Request entity too large', 'RequestEntityTooLarge')));
      else chunks.push(c);
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if ((req.headers['content-type'] ?? '').startsWith('application/vnd.kubernetes.protobuf')) {
        try {
          return resolve(decodeReviewSpec(raw));
        } catch (err) {
          return reject(new StatusError(status(415, `fake-kube reads protobuf only for access reviews: ${(err as Error).message}`, 'UnsupportedMediaType')));
        }
      }
      const text = raw.toString('utf8');
      if (!text) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new StatusError(status(400, `couldn't get version/kind; json parse error: ${(err as Error).message}`, 'BadRequest')));
      }
    });
    req.on('error', reject);
  });
}

/** A Kubernetes list body: items carry no kind/apiVersion, as the apiserver sends typed lists. */
function listBody(def: ResourceDef, items: KubeObject[], rv: string) {
  return {
    kind: `${def.kind}List`,
    apiVersion: apiVersionOf(def),
    metadata: { resourceVersion: rv },
    items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
  };
}

/**
 * A fake kube-apiserver for the gateway's tests: TLS with its own CA, bearer-token auth for one
 * service account that may impersonate, RBAC over stored objects, discovery, a few resources with
 * watch, pod logs, exec over WebSocket and SPDY, switchable faults, and a log of every request.
 */
export class FakeKube {
  readonly saUsername = SA_USERNAME;
  readonly store = new Store();
  readonly rbac = new RbacAuthorizer(this.store);
  readonly logs = new LogBook();
  readonly faults = new FaultSet();
  /** Commands exec can run; add your own to script a container. */
  readonly commands: Map<string, Command> = defaultCommands();
  /** What `attach` runs: stdin echoed to stdout. */
  attachCommand = ['cat'];
  /** 'spdy': real SPDY/3.1 exec (kubectl with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false works); 'raw': a 101 and then a byte echo, for splice tests. */
  spdyMode: 'spdy' | 'raw' = 'spdy';
  /** Port-forward: `raw` echoes the bytes after the 101 or each WebSocket message (splice tests); `spdy` serves kubectl port-forward, over a SPDY upgrade or tunnelled over WebSocket (the pod's port echoes). */
  portForwardMode: 'spdy' | 'raw' = 'raw';
  /** Port-forward sessions served in `spdy` mode, by transport: a SPDY upgrade, or SPDY tunnelled over WebSocket. */
  readonly portForwards = { spdy: 0, websocket: 0 };
  /** The subprotocol each WebSocket upgrade negotiated, for the WebSocketServer's handshake. */
  private readonly chosenProtocols = new WeakMap<IncomingMessage, string>();
  readonly requests: RecordedRequest[] = [];
  readonly streams: OpenStreams = { watch: 0, log: 0, exec: 0 };
  /** Terminal resize messages received on exec channel 4. */
  readonly resizes: unknown[] = [];

  readonly caPem: string;
  readonly token: string;
  url = '';
  port = 0;

  private readonly server: https.Server | http2.Http2SecureServer;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<Duplex>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** HTTP/2 streams reset by the client (RST_STREAM), by the error code it sent. */
  readonly streamResets: number[] = [];
  /** TLS connections accepted since start: a client that dials without need shows here even once they are closed. */
  connectionsAccepted = 0;
  private openH2Streams = 0;
  private readonly watchResponses = new Set<ServerResponse>();
  private readonly tokens = new Map<string, UserInfo>();
  private readonly recordRequests: boolean;

  private constructor(opts: FakeKubeOptions) {
    this.recordRequests = opts.recordRequests ?? true;
    const certs = generateCerts();
    this.caPem = certs.caPem;
    this.token = opts.token ?? randomBytes(24).toString('base64url');
    this.tokens.set(this.token, { username: SA_USERNAME, groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'], extra: {} });
    this.rbac.superUsers.add(SA_USERNAME);
    for (const o of defaultRbacObjects()) this.apply(o);
    this.addNamespace('default');
    this.addNamespace('kube-system');

    // The HTTP/2 compatibility API hands over Http2ServerRequest/Response; the handlers use only what
    // both protocols share, and the few differences are handled where they arise.
    const onRequest = (req: unknown, res: unknown): void => void this.onRequest(req as IncomingMessage, res as ServerResponse);
    if (opts.protocols === 'http1') this.server = https.createServer({ key: certs.keyPem, cert: certs.certPem }, onRequest);
    else {
      const server = http2.createSecureServer(
        { key: certs.keyPem, cert: certs.certPem, allowHTTP1: true, settings: opts.maxConcurrentStreams ? { maxConcurrentStreams: opts.maxConcurrentStreams } : {} },
        onRequest,
      );
      server.on('session', (session) => {
        this.sessions.add(session);
        session.on('close', () => this.sessions.delete(session));
        session.on('error', () => undefined);
        session.on('stream', (stream) => {
          this.openH2Streams++;
          stream.on('close', () => {
            this.openH2Streams--;
            if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR && stream.rstCode !== undefined) this.streamResets.push(stream.rstCode);
          });
        });
      });
      this.server = server;
    }
    this.server.on('secureConnection', (s) => {
      // writeRaw hands a socket back to the server after a refused upgrade: the same connection, not a new one.
      if (!this.sockets.has(s)) this.connectionsAccepted++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(req, socket, head));
    this.wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (_offered, req) => this.chosenProtocols.get(req) ?? false,
    });
  }

  static async start(opts: FakeKubeOptions = {}): Promise<FakeKube> {
    const fake = new FakeKube(opts);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.port = (fake.server.address() as AddressInfo).port;
    fake.url = `https://127.0.0.1:${fake.port}`;
    return fake;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- seeding ---------------------------------------------------------------------------------

  /** Create or replace any stored object (RBAC objects included) by its apiVersion/kind. */
  apply(obj: KubeObject): KubeObject {
    return this.store.put(defForObject(obj), obj);
  }

  addNamespace(name: string): KubeObject {
    return this.store.tryGet(findDef('', 'namespaces')!, '', name) ?? this.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }

  /** A Running pod with the given containers (one called `main` by default); creates the namespace too. */
  addPod(namespace: string, name: string, opts: { containers?: string[]; labels?: Record<string, string> } = {}): KubeObject {
    this.addNamespace(namespace);
    const containers = (opts.containers ?? ['main']).map((c) => ({ name: c, image: 'busybox' }));
    return this.apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: opts.labels }, spec: { containers } });
  }

  /**
   * Grants rules through a (Cluster)Role and a binding, the same objects `kubectl create role` makes;
   * namespaced when `namespace` is given.
   */
  grant(subject: { user: string } | { group: string }, rules: PolicyRule[], namespace?: string): void {
    const who = 'user' in subject ? subject.user : subject.group;
    const name = `fake-grant-${who.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}-${randomBytes(3).toString('hex')}`;
    const roleKind = namespace ? 'Role' : 'ClusterRole';
    this.apply({ apiVersion: `${rbacGroup}/v1`, kind: roleKind, metadata: { name, namespace }, rules });
    this.apply({
      apiVersion: `${rbacGroup}/v1`,
      kind: namespace ? 'RoleBinding' : 'ClusterRoleBinding',
      metadata: { name, namespace },
      roleRef: { apiGroup: rbacGroup, kind: roleKind, name },
      subjects: [{ apiGroup: rbacGroup, kind: 'user' in subject ? 'User' : 'Group', name: who }],
    });
  }

  /** Back to the default roles only (discovery, self reviews, cluster-admin unbound). */
  resetRbac(): void {
    for (const r of ['rolebindings', 'roles', 'clusterrolebindings', 'clusterroles']) {
      const def = findDef(rbacGroup, r)!;
      for (const o of this.store.list(def)) this.store.delete(def, o.metadata.namespace ?? '', o.metadata.name!);
    }
    for (const o of defaultRbacObjects()) this.apply(o);
  }

  /** Another bearer token, for a caller that is not the gateway SA (it may not impersonate unless granted). */
  addToken(token: string, user: { username: string; groups?: string[] }): void {
    this.tokens.set(token, { username: user.username, groups: [...(user.groups ?? []), 'system:authenticated'], extra: {} });
  }

  appendLog(namespace: string, pod: string, line: string, container?: string): void {
    this.logs.append(namespace, pod, container ?? this.defaultContainer(namespace, pod), line);
  }

  /** Ends `follow=true` log streams for the container, as its exit would. */
  endLogs(namespace: string, pod: string, container?: string): void {
    this.logs.end(namespace, pod, container ?? this.defaultContainer(namespace, pod));
  }

  /**
   * Publishes a watch event. ADDED/MODIFIED/DELETED change the store (watchers see them as any write);
   * BOOKMARK and ERROR go only to watchers of `resource`.
   */
  emit(type: WatchEventType, object: KubeObject | KubeStatus, resource?: { group?: string; resource: string; namespace?: string }): void {
    if (type === 'ADDED' || type === 'MODIFIED') {
      this.apply(object as KubeObject);
    } else if (type === 'DELETED') {
      const o = object as KubeObject;
      this.store.delete(defForObject(o), o.metadata.namespace ?? '', o.metadata.name ?? '');
    } else {
      const def = resource && findDef(resource.group ?? '', resource.resource);
      if (!def) throw new Error(`emit(${type}) needs the resource it is for`);
      this.store.emitRaw(def, type, object as Record<string, unknown>, resource?.namespace ?? '');
    }
  }

  // ---- faults ----------------------------------------------------------------------------------

  addFault(fault: Fault): () => void {
    return this.faults.add(fault);
  }

  /**
   * Upgrade requests get this answer instead of 101. By default a 403 Status with keep-alive, like the
   * apiserver behind CVE-2018-1002105: the connection stays usable, so a proxy that keeps forwarding
   * on it after a failed upgrade is caught by the request log.
   */
  refuseUpgrades(opts: { code?: number; kind?: 'websocket' | 'spdy'; headers?: Record<string, string>; body?: string | object; keepAlive?: boolean; times?: number } = {}): () => void {
    const code = opts.code ?? 403;
    const body = opts.body ?? status(code, code === 403 ? 'upgrade refused by fake-kube' : STATUS_CODES[code] ?? 'refused');
    return this.faults.add({
      match: { upgrade: opts.kind ?? true },
      action: { kind: 'respond', code, headers: { 'Content-Type': 'application/json', ...opts.headers }, body, keepAlive: opts.keepAlive ?? true },
      times: opts.times,
    });
  }

  delayResponses(ms: number, match: FaultMatch = {}): () => void {
    return this.faults.add({ match, action: { kind: 'delay', ms } });
  }

  resetMidBody(match: FaultMatch = {}): () => void {
    return this.faults.add({ match, action: { kind: 'reset' } });
  }

  statusFor(match: FaultMatch, code: number, message: string, reason?: string): () => void {
    return this.faults.add({ match, action: { kind: 'respond', code, headers: { 'Content-Type': 'application/json' }, body: status(code, message, reason) } });
  }

  /** Ends every open watch cleanly (as the apiserver's request timeout would). */
  closeWatches(): void {
    for (const r of this.watchResponses) r.end();
  }

  /** Open TLS connections from clients: HTTP/1.1 sockets (upgraded ones included) and HTTP/2 sessions' sockets. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Open HTTP/2 streams, over every session: each request in progress on a multiplexed connection. */
  get h2Streams(): number {
    return this.openH2Streams;
  }

  /** Open HTTP/2 client sessions (one per multiplexing client connection). */
  get h2Sessions(): number {
    return this.sessions.size;
  }

  /**
   * Sends GOAWAY on every HTTP/2 session, as kube-apiserver does at random (`--goaway-chance`) and on
   * shutdown: streams already open finish, new ones must go on a new connection.
   */
  goAway(): void {
    for (const s of this.sessions) s.close();
  }

  // ---- inspection ------------------------------------------------------------------------------

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Requests whose path (without query) equals `path` or matches a RegExp on path+query. */
  requestsTo(path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => (typeof path === 'string' ? r.url.split('?')[0] === path : path.test(r.url)));
  }

  async waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`fake-kube: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** A kubeconfig pointing straight at this fake with its SA token. */
  writeKubeconfig(opts: KubeconfigOptions = {}): string {
    return writeKubeconfig(this, opts);
  }

  // ---- request handling ------------------------------------------------------------------------

  private record(req: IncomingMessage): RecordedRequest {
    const rawHeaders: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) if (!req.rawHeaders[i]!.startsWith(':')) rawHeaders.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', rawHeaders, httpVersion: req.httpVersion, upgrade: upgradeKind(req), header: (n) => headerValues(rawHeaders, n) };
    if (this.recordRequests) this.requests.push(rec);
    return rec;
  }

  /** The caller's identity, or the Status to refuse it with (decided before faults so it is recorded). */
  private authenticate(req: IncomingMessage): UserInfo | KubeStatus {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const caller = m && this.tokens.get(m[1]);
    if (!caller) return status(401, 'Unauthorized', 'Unauthorized');
    const h = distinctHeaders(req.rawHeaders);
    const extra: Record<string, string[]> = {};
    for (const [name, values] of Object.entries(h)) {
      if (name.startsWith('impersonate-extra-')) extra[decodeURIComponent(name.slice('impersonate-extra-'.length))] = values ?? [];
    }
    const asUser = h['impersonate-user']?.[0];
    const asGroups = (h['impersonate-group'] ?? []).filter(Boolean);
    const asUid = h['impersonate-uid']?.[0];
    if (!asUser) {
      if (asGroups.length || asUid || Object.keys(extra).length) {
        return status(500, `Internal error occurred: requested impersonation of groups/extra/uid without impersonating a user`, 'InternalError');
      }
      return caller;
    }
    // Impersonation is itself authorised, as the apiserver's filter does, so only the SA (or a granted user) may.
    const checks: RequestInfo[] = [
      asUser.startsWith('system:serviceaccount:')
        ? this.impersonateAttrs('', 'serviceaccounts', asUser.split(':')[3] ?? '', asUser.split(':')[2] ?? '')
        : this.impersonateAttrs('', 'users', asUser),
      ...asGroups.map((g) => this.impersonateAttrs('', 'groups', g)),
      ...(asUid ? [this.impersonateAttrs('authentication.k8s.io', 'uids', asUid)] : []),
      ...Object.entries(extra).flatMap(([k, vs]) => vs.map((v) => ({ ...this.impersonateAttrs('authentication.k8s.io', 'userextras', v), subresource: k }))),
    ];
    for (const a of checks) if (!this.rbac.allowed(caller, a)) return forbidden(caller, a);
    const groups = asGroups.includes('system:authenticated') ? asGroups : [...asGroups, 'system:authenticated'];
    return { username: asUser, groups, uid: asUid, extra };
  }

  private impersonateAttrs(apiGroup: string, resource: string, name: string, namespace = ''): RequestInfo {
    return { isResourceRequest: true, path: '', verb: 'impersonate', apiGroup, apiVersion: 'v1', namespace, resource, subresource: '', name };
  }

  /** Applies matching faults: delays are waited out; the first answering fault is returned. */
  private async faultFor(req: IncomingMessage, url: URL): Promise<FaultAction | undefined> {
    const seen = new Set<Fault>();
    for (let f = this.faults.take(req, url, seen); f; f = this.faults.take(req, url, seen)) {
      if (f.action.kind !== 'delay') return f.action;
      await new Promise((r) => setTimeout(r, (f.action as { ms: number }).ms));
    }
    return undefined;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rec = this.record(req);
    res.setHeader('Audit-Id', req.headers['audit-id'] ?? randomUUID());
    const url = new URL(req.url ?? '/', 'https://fake-kube');
    try {
      const who = this.authenticate(req);
      if (!('kind' in who)) rec.user = who;
      const fault = await this.faultFor(req, url);
      if (fault?.kind === 'respond') {
        const body = typeof fault.body === 'string' ? fault.body : json(fault.body ?? '');
        res.writeHead(fault.code, fault.headers ?? {});
        res.end(body);
        return;
      }
      if (fault?.kind === 'reset') {
        const partial = fault.partialBody ?? '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Succ';
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(partial) + 1000) });
        // Over HTTP/2 the stream is reset (the connection carries other requests); over HTTP/1.1 the connection goes.
        const cut = (): void => {
          const stream = (req as unknown as { stream?: http2.ServerHttp2Stream }).stream;
          if (stream) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
          else req.socket.destroy();
        };
        res.write(partial, () => setImmediate(cut));
        return;
      }
      if ('kind' in who) throw new StatusError(who);
      const info = requestInfo(req.method ?? 'GET', url);
      if (!this.rbac.allowed(who, info)) throw new StatusError(forbidden(who, info));
      await this.serve(req, res, url, info, who);
    } catch (err) {
      const body = err instanceof StatusError ? err.body : status(500, `Internal error occurred: ${(err as Error).message}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(body.code, { 'Content-Type': 'application/json' });
      res.end(json(body));
    }
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(json(body));
  }

  private async serve(req: IncomingMessage, res: ServerResponse, url: URL, info: RequestInfo, user: UserInfo): Promise<void> {
    if (!info.isResourceRequest) return this.serveNonResource(res, url, req);
    const method = req.method ?? 'GET';
    if (info.apiGroup === 'authorization.k8s.io' && method === 'POST') {
      if (info.resource === 'selfsubjectaccessreviews') return this.send(res, 201, this.selfSubjectAccessReview(user, await readBody(req)));
      if (info.resource === 'selfsubjectrulesreviews') return this.send(res, 201, this.selfSubjectRulesReview(user, await readBody(req)));
    }
    if (info.apiGroup === '' && info.resource === 'pods' && info.subresource === 'log' && method === 'GET') return this.serveLog(res, url, info);
    if (info.resource === 'pods' && connectSubresources.has(info.subresource)) {
      throw new StatusError(status(400, 'Upgrade request required', 'BadRequest'));
    }
    const def = findDef(info.apiGroup, info.resource);
    if (!def || def.version !== info.apiVersion || info.subresource || (!def.namespaced && info.namespace && info.resource !== 'namespaces')) {
      throw new StatusError(status(404, 'the server could not find the requested resource', 'NotFound'));
    }
    const ns = def.namespaced ? info.namespace : '';
    const q = url.searchParams;
    const listOpts = { namespace: ns || undefined, labelSelector: q.get('labelSelector'), fieldSelector: q.get('fieldSelector') };
    switch (info.verb) {
      case 'get':
        return this.send(res, 200, this.store.get(def, ns, info.name));
      case 'list':
        return this.send(res, 200, listBody(def, this.store.list(def, listOpts), this.store.resourceVersion));
      case 'watch':
        return this.startWatch(res, def, { ...listOpts, resourceVersion: q.get('resourceVersion'), timeoutSeconds: Number(q.get('timeoutSeconds')) || undefined });
      case 'create': {
        if (def.namespaced && !ns) throw new StatusError(status(404, 'the server could not find the requested resource', 'NotFound'));
        const body = (await readBody(req)) as KubeObject;
        return this.send(res, 201, this.store.create(def, { ...body, metadata: body?.metadata ?? {} }, ns));
      }
      case 'update': {
        const body = (await readBody(req)) as KubeObject;
        if (body?.metadata?.name !== info.name) throw new StatusError(status(400, 'the name of the object does not match the name on the URL', 'BadRequest'));
        return this.send(res, 200, this.store.update(def, body, ns));
      }
      case 'patch': {
        const patch = await readBody(req);
        const current = this.store.get(def, ns, info.name);
        const type = req.headers['content-type'] ?? '';
        let next: unknown;
        if (type.startsWith('application/json-patch+json')) next = jsonPatch(current as never, patch as never);
        else if (type.startsWith('application/merge-patch+json') || type.startsWith('application/strategic-merge-patch+json')) next = mergePatch(current as never, patch as never);
        else throw new StatusError(status(415, `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`, 'UnsupportedMediaType'));
        const obj = next as KubeObject;
        obj.metadata = { ...obj.metadata, resourceVersion: undefined };
        return this.send(res, 200, this.store.update(def, obj, ns));
      }
      case 'delete': {
        const gone = this.store.delete(def, ns, info.name);
        if (def.name === 'namespaces') this.deleteNamespaceContents(info.name);
        return this.send(res, 200, gone);
      }
      case 'deletecollection': {
        const items = this.store.list(def, listOpts);
        for (const o of items) this.store.delete(def, o.metadata.namespace ?? '', o.metadata.name!);
        return this.send(res, 200, listBody(def, items, this.store.resourceVersion));
      }
      default:
        throw new StatusError(status(405, `the server does not allow this method on the requested resource`, 'MethodNotAllowed'));
    }
  }

  private deleteNamespaceContents(ns: string): void {
    for (const r of ['pods', 'configmaps', 'roles', 'rolebindings']) {
      const def = findDef(r.startsWith('role') ? rbacGroup : '', r)!;
      for (const o of this.store.list(def, { namespace: ns })) this.store.delete(def, ns, o.metadata.name!);
    }
  }

  private serveNonResource(res: ServerResponse, url: URL, req: IncomingMessage): void {
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const parts = p.split('/').filter(Boolean);
    let body: unknown;
    if (p === '/version') body = versionInfo;
    else if (p === '/api') body = apiVersions(`${req.socket.localAddress}:${this.port}`);
    else if (p === '/apis') body = apiGroupList();
    else if (parts[0] === 'api' && parts.length === 2) body = apiResourceList('', parts[1]);
    else if (parts[0] === 'apis' && parts.length === 2) body = apiGroup(parts[1]);
    else if (parts[0] === 'apis' && parts.length === 3) body = apiResourceList(parts[1], parts[2]);
    else if (['/healthz', '/livez', '/readyz'].includes(p)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    // Plain application/json here is what makes kubectl give up on aggregated discovery and fall back.
    if (body) return this.send(res, 200, body);
    throw new StatusError(status(404, 'the server could not find the requested resource', 'NotFound'));
  }

  private selfSubjectAccessReview(user: UserInfo, body: unknown) {
    const spec = ((body as { spec?: Record<string, Record<string, string> | undefined> })?.spec ?? {}) as {
      resourceAttributes?: Record<string, string>;
      nonResourceAttributes?: Record<string, string>;
    };
    const ra = spec.resourceAttributes;
    const nra = spec.nonResourceAttributes;
    if (!ra && !nra) throw new StatusError(status(422, 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified', 'Invalid'));
    const attrs: RequestInfo = ra
      ? { isResourceRequest: true, path: '', verb: ra.verb ?? '', apiGroup: ra.group ?? '', apiVersion: ra.version ?? '', namespace: ra.namespace ?? '', resource: ra.resource ?? '', subresource: ra.subresource ?? '', name: ra.name ?? '' }
      : { isResourceRequest: false, path: nra!.path ?? '', verb: nra!.verb ?? '', apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '' };
    const allowed = this.rbac.allowed(user, attrs);
    return {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec,
      status: allowed ? { allowed: true, reason: 'RBAC: allowed by fake-kube' } : { allowed: false },
    };
  }

  private selfSubjectRulesReview(user: UserInfo, body: unknown) {
    const spec = (body as { spec?: { namespace?: string } })?.spec ?? {};
    const superUser = this.rbac.superUsers.has(user.username) || user.groups.includes('system:masters');
    const rules = superUser ? [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }] : this.rbac.rulesFor(user, spec.namespace ?? '');
    return {
      kind: 'SelfSubjectRulesReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec,
      status: {
        resourceRules: rules.filter((r) => !r.nonResourceURLs).map((r) => ({ verbs: r.verbs, apiGroups: r.apiGroups, resources: r.resources, resourceNames: r.resourceNames })),
        nonResourceRules: rules.filter((r) => r.nonResourceURLs).map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs })),
        incomplete: false,
      },
    };
  }

  private startWatch(res: ServerResponse, def: ResourceDef, opts: Parameters<typeof serveWatch>[2]): void {
    this.streams.watch++;
    this.watchResponses.add(res);
    res.on('close', () => {
      this.streams.watch--;
      this.watchResponses.delete(res);
    });
    serveWatch(this.store, def, opts, res);
  }

  private podContainers(ns: string, pod: string): string[] {
    const p = this.store.get(findDef('', 'pods')!, ns, pod);
    return ((p.spec as { containers?: { name: string }[] })?.containers ?? []).map((c) => c.name);
  }

  private defaultContainer(ns: string, pod: string): string {
    return this.podContainers(ns, pod)[0] ?? 'main';
  }

  /** The container a logs/exec request is for, with the apiserver's errors when it cannot tell. */
  private resolveContainer(ns: string, pod: string, wanted: string | null): string {
    const names = this.podContainers(ns, pod);
    if (wanted) {
      if (!names.includes(wanted)) throw new StatusError(status(400, `container ${wanted} is not valid for pod ${pod}`, 'BadRequest'));
      return wanted;
    }
    if (names.length === 1) return names[0];
    throw new StatusError(status(400, `a container name must be specified for pod ${pod}, choose one of: [${names.join(' ')}]`, 'BadRequest'));
  }

  private serveLog(res: ServerResponse, url: URL, info: RequestInfo): void {
    const q = url.searchParams;
    const container = this.resolveContainer(info.namespace, info.name, q.get('container'));
    const tail = q.has('tailLines') ? Number(q.get('tailLines')) : undefined;
    const lines = this.logs.lines(info.namespace, info.name, container, tail);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    if (!['1', 'true'].includes(q.get('follow') ?? '')) {
      res.end(lines.join(''));
      return;
    }
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    for (const l of lines) res.write(l);
    this.streams.log++;
    const stop = this.logs.follow(info.namespace, info.name, container, res);
    res.on('close', () => {
      this.streams.log--;
      stop();
    });
  }

  // ---- upgrades --------------------------------------------------------------------------------

  /** Writes a plain HTTP response on an upgrade socket; keep-alive hands the socket back to the HTTP server. */
  private writeRaw(socket: Duplex, head: Buffer, code: number, headers: Record<string, string>, body: string, keepAlive: boolean): void {
    const lines = [`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Unknown'}`, `Date: ${new Date().toUTCString()}`];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, `Connection: ${keepAlive ? 'keep-alive' : 'close'}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n' + body);
    if (!keepAlive) {
      socket.end();
      return;
    }
    // Re-attach an HTTP parser so a pipelined request on this connection is served (and recorded).
    if (head.length) socket.unshift(head);
    this.server.emit('secureConnection', socket);
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const rec = this.record(req);
    const url = new URL(req.url ?? '/', 'https://fake-kube');
    const auditId = { 'Audit-Id': String(req.headers['audit-id'] ?? randomUUID()) };
    const refuse = (s: KubeStatus) => this.writeRaw(socket, head, s.code, { ...auditId, 'Content-Type': 'application/json' }, json(s), false);
    try {
      const who = this.authenticate(req);
      if (!('kind' in who)) rec.user = who;
      const fault = await this.faultFor(req, url);
      if (fault?.kind === 'respond') {
        const body = typeof fault.body === 'string' ? fault.body : json(fault.body ?? '');
        return this.writeRaw(socket, head, fault.code, { ...auditId, ...fault.headers }, body, fault.keepAlive ?? false);
      }
      if (fault?.kind === 'reset') {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n', () => socket.destroy());
        return;
      }
      if ('kind' in who) return refuse(who);
      const info = requestInfo(req.method ?? 'GET', url);
      if (!this.rbac.allowed(who, info)) return refuse(forbidden(who, info));
      if (info.resource !== 'pods' || !connectSubresources.has(info.subresource)) {
        return refuse(status(400, `upgrade is not supported on ${url.pathname}`, 'BadRequest'));
      }
      const kind = upgradeKind(req);
      if (info.subresource !== 'portforward') {
        this.resolveContainer(info.namespace, info.name, url.searchParams.get('container'));
      } else {
        this.store.get(findDef('', 'pods')!, info.namespace, info.name);
      }
      if (kind === 'websocket') return this.upgradeWebSocket(req, socket, head, url, info);
      if (kind === 'spdy') {
        const protocol = chooseSpdyProtocol(req);
        if (!protocol && info.subresource !== 'portforward') return refuse(status(403, 'unable to upgrade connection: no supported stream protocol offered', 'Forbidden'));
        socket.on('close', () => this.streams.exec--);
        this.streams.exec++;
        if (info.subresource === 'portforward' && this.portForwardMode === 'spdy') {
          this.portForwards.spdy++;
          return serveSpdyPortForward(socket, head);
        }
        if (this.spdyMode === 'raw' || info.subresource === 'portforward' || !protocol) return serveRawSpdy(socket, head, protocol ?? 'portforward.k8s.io');
        const params = execParams(url);
        if (info.subresource === 'attach') params.command = this.attachCommand;
        return serveSpdyExec(socket, head, protocol, params, this.commands, (size) => this.resizes.push(size));
      }
      return refuse(status(400, `unsupported upgrade: ${req.headers.upgrade}`, 'BadRequest'));
    } catch (err) {
      refuse(err instanceof StatusError ? err.body : status(500, `Internal error occurred: ${(err as Error).message}`));
    }
  }

  private upgradeWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, info: RequestInfo): void {
    const offered = new Set((req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
    const chosen = info.subresource === 'portforward' ? portForwardProtocol(offered) : chooseExecProtocol(offered);
    if (!chosen) {
      const s = status(400, `unable to upgrade connection: none of the offered subprotocols [${[...offered].join(' ')}] is supported`, 'BadRequest');
      return this.writeRaw(socket, head, 400, { 'Content-Type': 'application/json' }, json(s), false);
    }
    this.chosenProtocols.set(req, chosen);
    // ws refuses offers that are not RFC 7230 tokens, and kubectl's `SPDY/3.1+portforward.k8s.io` has a
    // '/'; gorilla (kube-apiserver's) takes any. ws sees one token standing for the protocol chosen above.
    req.headers['sec-websocket-protocol'] = 'chosen';
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      this.streams.exec++;
      ws.on('close', () => this.streams.exec--);
      if (info.subresource === 'portforward' && this.portForwardMode === 'spdy' && ws.protocol === TUNNELED_PORT_FORWARD) {
        this.portForwards.websocket++;
        return serveTunneledPortForward(ws);
      }
      if (info.subresource === 'portforward') {
        // Raw mode: echo each message; the gateway only splices bytes, it never speaks port-forward.
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
        return;
      }
      const params = execParams(url);
      if (info.subresource === 'attach') params.command = this.attachCommand;
      void serveWebSocketExec(ws, params, this.commands, (size) => this.resizes.push(size));
    });
  }
}

function portForwardProtocol(offered: Set<string>): string | false {
  return [TUNNELED_PORT_FORWARD, 'portforward.k8s.io'].find((p) => offered.has(p)) ?? false;
}
