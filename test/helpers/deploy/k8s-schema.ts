import * as k8s from '@kubernetes/client-node';

/**
 * Checks a manifest against the OpenAPI models @kubernetes/client-node generates (their
 * attributeTypeMap): every field must be an attribute of its type, recursively, with a value of the
 * type's shape. Unknown fields are errors, as `kubectl apply --validate=strict` makes them.
 */

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}
interface Model {
  getAttributeTypeMap(): Attribute[];
}

/** The API group/version each kind the deployment files use belongs to. */
export const KIND_API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  Secret: 'v1',
  ConfigMap: 'v1',
  ServiceAccount: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  Role: 'rbac.authorization.k8s.io/v1',
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  ClusterRole: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
  PodDisruptionBudget: 'policy/v1',
};

function model(name: string): Model | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[name];
  return typeof candidate === 'function' && 'getAttributeTypeMap' in candidate ? (candidate as unknown as Model) : undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function checkValue(value: unknown, type: string, format: string, path: string, problems: string[]): void {
  const array = /^Array<(.+)>$/.exec(type);
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return void problems.push(`${path}: expected a list`);
    value.forEach((item, i) => checkValue(item, array[1]!, format, `${path}[${i}]`, problems));
  } else if (map) {
    if (!isObject(value)) return void problems.push(`${path}: expected a map`);
    for (const [k, v] of Object.entries(value)) checkValue(v, map[1]!, format, `${path}.${k}`, problems);
  } else if (type === 'string' || type === 'Date') {
    if (typeof value !== 'string') return void problems.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
    if (format === 'byte' && !BASE64.test(value.replace(/\s/g, ''))) problems.push(`${path}: expected base64`);
  } else if (type === 'number') {
    if (typeof value !== 'number') return void problems.push(`${path}: expected a number, got ${JSON.stringify(value)}`);
    if ((format === 'int32' || format === 'int64') && !Number.isInteger(value)) problems.push(`${path}: expected an integer`);
  } else if (type === 'boolean') {
    if (typeof value !== 'boolean') problems.push(`${path}: expected true or false, got ${JSON.stringify(value)}`);
  } else if (type === 'IntOrString') {
    if (typeof value !== 'string' && !Number.isInteger(value)) problems.push(`${path}: expected an integer or a string`);
  } else if (type !== 'any') {
    checkObject(value, type, path, problems);
  }
}

function checkObject(value: unknown, typeName: string, path: string, problems: string[]): void {
  const m = model(typeName);
  if (!m) return void problems.push(`${path}: no model ${typeName} in @kubernetes/client-node`);
  if (!isObject(value)) return void problems.push(`${path}: expected an object (${typeName})`);
  const attributes = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a]));
  for (const [key, v] of Object.entries(value)) {
    const attribute = attributes.get(key);
    const at = path ? `${path}.${key}` : key;
    if (!attribute) problems.push(`${at}: unknown field of ${typeName}`);
    else if (v !== null) checkValue(v, attribute.type, attribute.format, at, problems);
  }
}

/** The problems of one manifest document (empty when it matches its kind's model). */
export function validateManifest(doc: unknown): string[] {
  if (!isObject(doc)) return ['the document is not an object'];
  const { apiVersion, kind } = doc as { apiVersion?: unknown; kind?: unknown };
  if (typeof kind !== 'string' || !(kind in KIND_API_VERSIONS)) return [`kind ${String(kind)}: not one of ${Object.keys(KIND_API_VERSIONS).join(', ')}`];
  if (apiVersion !== KIND_API_VERSIONS[kind]) return [`apiVersion ${String(apiVersion)}: ${kind} is ${KIND_API_VERSIONS[kind]}`];
  const version = String(apiVersion).split('/').pop()!;
  const problems: string[] = [];
  checkObject(doc, `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`, '', problems);
  return problems;
}
