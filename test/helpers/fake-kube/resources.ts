import { randomUUID } from 'node:crypto';
import { matchesSelector } from './selectors';
import { alreadyExists, notFound, status, StatusError } from './status';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface ResourceDef {
  group: string;
  version: string;
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  verbs: string[];
}

const crud = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const rbac = 'rbac.authorization.k8s.io';

/** The kinds the fake stores; discovery lists exactly these (plus the pod subresources and the review kinds). */
export const resourceDefs: ResourceDef[] = [
  { group: '', version: 'v1', name: 'namespaces', singularName: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
  { group: '', version: 'v1', name: 'pods', singularName: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], verbs: crud },
  { group: '', version: 'v1', name: 'configmaps', singularName: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'], verbs: crud },
  // default/kubernetes lists the apiserver addresses, which bcs-api agent reads (seed it with apply()).
  { group: '', version: 'v1', name: 'endpoints', singularName: 'endpoints', kind: 'Endpoints', namespaced: true, shortNames: ['ep'], verbs: crud },
  { group: rbac, version: 'v1', name: 'clusterroles', singularName: 'clusterrole', kind: 'ClusterRole', namespaced: false, verbs: crud },
  { group: rbac, version: 'v1', name: 'clusterrolebindings', singularName: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false, verbs: crud },
  { group: rbac, version: 'v1', name: 'roles', singularName: 'role', kind: 'Role', namespaced: true, verbs: crud },
  { group: rbac, version: 'v1', name: 'rolebindings', singularName: 'rolebinding', kind: 'RoleBinding', namespaced: true, verbs: crud },
];

export function findDef(group: string, resource: string): ResourceDef | undefined {
  return resourceDefs.find((d) => d.group === group && d.name === resource);
}

export function defForObject(obj: KubeObject): ResourceDef {
  const [group, version] = obj.apiVersion?.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const def = resourceDefs.find((d) => d.group === group && d.version === version && d.kind === obj.kind);
  if (!def) throw new Error(`fake-kube does not store ${obj.apiVersion} ${obj.kind}`);
  return def;
}

export function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface StoreEvent {
  def: ResourceDef;
  type: WatchEventType;
  object: KubeObject | Record<string, unknown>;
  namespace: string;
  resourceVersion: number;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string | null;
  fieldSelector?: string | null;
}

const clone = <T>(v: T): T => structuredClone(v);

export function matches(obj: KubeObject, opts: ListOptions): boolean {
  const m = obj.metadata;
  if (opts.namespace && m.namespace !== opts.namespace) return false;
  if (!matchesSelector(opts.labelSelector ?? null, (k) => m.labels?.[k])) return false;
  const fields: Record<string, string | undefined> = { 'metadata.name': m.name, 'metadata.namespace': m.namespace };
  return matchesSelector(opts.fieldSelector ?? null, (k) => fields[k]);
}

/**
 * An in-memory object store with one resourceVersion counter and an event history, so a watch that
 * starts from a list's resourceVersion sees exactly the changes after that list, as with etcd.
 */
export class Store {
  private readonly objects = new Map<string, KubeObject>();
  private rv = 1;
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  get resourceVersion(): string {
    return String(this.rv);
  }

  private key(def: ResourceDef, ns: string, name: string): string {
    return `${def.group}/${def.name}/${def.namespaced ? ns : ''}/${name}`;
  }

  get(def: ResourceDef, ns: string, name: string): KubeObject {
    const o = this.objects.get(this.key(def, ns, name));
    if (!o) throw new StatusError(notFound(def.name, def.group, name));
    return clone(o);
  }

  tryGet(def: ResourceDef, ns: string, name: string): KubeObject | undefined {
    const o = this.objects.get(this.key(def, ns, name));
    return o && clone(o);
  }

  list(def: ResourceDef, opts: ListOptions = {}): KubeObject[] {
    const prefix = `${def.group}/${def.name}/`;
    return [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(prefix) && matches(o, def.namespaced ? opts : { ...opts, namespace: undefined }))
      .map(([, o]) => clone(o))
      .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  }

  create(def: ResourceDef, input: KubeObject, ns = ''): KubeObject {
    const obj = this.normalise(def, input, ns);
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = obj.metadata.generateName + randomUUID().slice(0, 5);
    if (!obj.metadata.name) throw new StatusError(status(422, `${def.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, 'Invalid'));
    if (def.namespaced && !this.objects.has(this.key(findDef('', 'namespaces')!, '', obj.metadata.namespace!))) {
      throw new StatusError(notFound('namespaces', '', obj.metadata.namespace!));
    }
    const key = this.key(def, obj.metadata.namespace ?? '', obj.metadata.name);
    if (this.objects.has(key)) throw new StatusError(alreadyExists(def.name, def.group, obj.metadata.name));
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.write(def, key, obj, 'ADDED');
  }

  update(def: ResourceDef, input: KubeObject, ns = ''): KubeObject {
    const obj = this.normalise(def, input, ns);
    const name = obj.metadata.name ?? '';
    const key = this.key(def, obj.metadata.namespace ?? '', name);
    const old = this.objects.get(key);
    if (!old) throw new StatusError(notFound(def.name, def.group, name));
    const wanted = input.metadata.resourceVersion;
    if (wanted && wanted !== old.metadata.resourceVersion) {
      const gr = def.group ? `${def.name}.${def.group}` : def.name;
      throw new StatusError(
        status(409, `Operation cannot be fulfilled on ${gr} "${name}": the object has been modified; please apply your changes to the latest version and try again`, 'Conflict', { name, group: def.group, kind: def.name }),
      );
    }
    obj.metadata.uid = old.metadata.uid;
    obj.metadata.creationTimestamp = old.metadata.creationTimestamp;
    return this.write(def, key, obj, 'MODIFIED');
  }

  /** Create or replace, for seeding from tests. */
  put(def: ResourceDef, input: KubeObject, ns = ''): KubeObject {
    const name = input.metadata.name ?? '';
    const exists = this.objects.has(this.key(def, input.metadata.namespace ?? ns, name));
    const obj = clone(input);
    delete obj.metadata.resourceVersion;
    return exists ? this.update(def, obj, ns) : this.create(def, obj, ns);
  }

  delete(def: ResourceDef, ns: string, name: string): KubeObject {
    const key = this.key(def, ns, name);
    const old = this.objects.get(key);
    if (!old) throw new StatusError(notFound(def.name, def.group, name));
    this.objects.delete(key);
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.publish({ def, type: 'DELETED', object: gone, namespace: ns, resourceVersion: this.rv });
    return clone(gone);
  }

  /** Sends an event that changes nothing stored (BOOKMARK, ERROR, or a synthetic one a test wants). */
  emitRaw(def: ResourceDef, type: WatchEventType, object: KubeObject | Record<string, unknown>, ns = ''): void {
    this.publish({ def, type, object: clone(object), namespace: ns, resourceVersion: this.rv });
  }

  /** Events after `rv` for `def`, or undefined when the history no longer reaches back that far (410 Gone). */
  eventsSince(def: ResourceDef, rv: number): StoreEvent[] | undefined {
    if (rv > this.rv) return [];
    if (this.history.length && this.history[0].resourceVersion > rv + 1 && rv < this.rv) return undefined;
    return this.history.filter((e) => e.def === def && e.resourceVersion > rv).map((e) => ({ ...e, object: clone(e.object) }));
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private normalise(def: ResourceDef, input: KubeObject, ns: string): KubeObject {
    const obj = clone(input);
    obj.apiVersion = apiVersionOf(def);
    obj.kind = def.kind;
    obj.metadata = { ...(obj.metadata ?? {}) };
    if (def.namespaced) {
      const wanted = obj.metadata.namespace ?? (ns || 'default');
      if (ns && wanted !== ns) {
        throw new StatusError(status(400, 'the namespace of the provided object does not match the namespace sent on the request', 'BadRequest'));
      }
      obj.metadata.namespace = wanted;
    } else delete obj.metadata.namespace;
    if (def.kind === 'Pod') defaultPod(obj);
    if (def.kind === 'Namespace') obj.status = { phase: 'Active' };
    return obj;
  }

  private write(def: ResourceDef, key: string, obj: KubeObject, type: WatchEventType): KubeObject {
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key, obj);
    this.publish({ def, type, object: clone(obj), namespace: obj.metadata.namespace ?? '', resourceVersion: this.rv });
    return clone(obj);
  }

  private publish(e: StoreEvent): void {
    if (e.type !== 'BOOKMARK' && e.type !== 'ERROR') {
      this.history.push(e);
      if (this.history.length > 1000) this.history.shift();
    }
    for (const fn of this.listeners) fn(e);
  }
}

/** kubectl exec/logs refuse pods that are not Running or have no containers, so seeded pods get both. */
function defaultPod(pod: KubeObject): void {
  const spec = (pod.spec ?? {}) as { containers?: { name: string; image?: string }[] };
  if (!spec.containers?.length) spec.containers = [{ name: 'main', image: 'busybox' }];
  pod.spec = spec;
  const st = (pod.status ?? {}) as Record<string, unknown>;
  st.phase ??= 'Running';
  st.containerStatuses ??= spec.containers.map((c) => ({ name: c.name, image: c.image ?? 'busybox', ready: true, restartCount: 0, state: { running: { startedAt: new Date().toISOString() } } }));
  pod.status = st;
}
