import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Container, V1Deployment, V1PodSpec, V1Probe, V1Service } from '@kubernetes/client-node';
import { loadCompose } from '../helpers/deploy/compose';
import { dockerFiles, manifests, readRepo, type Manifest } from '../helpers/deploy/files';
import { validateManifest } from '../helpers/deploy/k8s-schema';

const DIRS = ['docker/kubernetes/agent', 'docker/kubernetes/gateway'];
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
const IMAGE = loadCompose(readRepo('docker/compose.yaml'), { BCS_API_DB_PASSWORD: 'x', BCS_API_PEERING_SECRET: 'x' }).resolved.services['bcs-api-1']!.image;

const containersOf = (pod: V1PodSpec): V1Container[] => [...(pod.initContainers ?? []), ...pod.containers];
const probesOf = (c: V1Container): [string, V1Probe][] =>
  (['startupProbe', 'livenessProbe', 'readinessProbe'] as const).flatMap((k) => (c[k] ? [[k, c[k]] as [string, V1Probe]] : []));

describe('Kubernetes manifests (docker/kubernetes)', () => {
  it('every manifest matches the @kubernetes/client-node 1.4.0 model of its kind, with no unknown field', () => {
    const files = dockerFiles('docker/kubernetes');
    assert.deepEqual(files.filter((f) => !DIRS.some((d) => f.startsWith(`${d}/`))), [], 'every file is in a checked directory');
    assert.ok(files.every((f) => f.endsWith('.yaml')));
    const all = DIRS.flatMap(manifests);
    assert.ok(all.length >= 12);
    for (const { file, ...doc } of all) assert.deepEqual(validateManifest(doc), [], `${file}: ${doc.kind} ${doc.metadata.name}`);
  });

  it('the schema check refuses unknown fields, wrong shapes and unknown kinds', () => {
    const { file: _file, ...deployment } = structuredClone(manifests('docker/kubernetes/agent').find((m) => m.kind === 'Deployment')!);
    const pod = (deployment as unknown as V1Deployment).spec!.template.spec!;
    (pod.containers[0]!.readinessProbe!.httpGet as unknown as Record<string, unknown>)['paht'] = '/healthz';
    (pod.containers[0]!.securityContext as Record<string, unknown>)['runAsNonRoot'] = 'true';
    (deployment as unknown as { spec: Record<string, unknown> }).spec['replicas'] = 1.5;
    assert.deepEqual(validateManifest(deployment), [
      'spec.replicas: expected an integer',
      'spec.template.spec.containers[0].readinessProbe.httpGet.paht: unknown field of V1HTTPGetAction',
      'spec.template.spec.containers[0].securityContext.runAsNonRoot: expected true or false, got "true"',
    ]);
    assert.deepEqual(validateManifest({ apiVersion: 'v1', kind: 'Deployment', metadata: {} }), ['apiVersion v1: Deployment is apps/v1']);
    assert.match(validateManifest({ apiVersion: 'v1', kind: 'Pod' })[0]!, /^kind Pod: not one of/);
    assert.deepEqual(validateManifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { k: 'not base64!' } }), ['data.k: expected base64']);
  });

  for (const dir of DIRS) {
    const objects = manifests(dir);
    const find = (kind: string, name: string, namespace?: string): Manifest | undefined =>
      objects.find((o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));

    it(`${dir}: namespaced objects name a namespace the manifests create (or default)`, () => {
      for (const o of objects) {
        if (CLUSTER_SCOPED.has(o.kind)) assert.equal(o.metadata.namespace, undefined, `${o.kind} ${o.metadata.name}`);
        else assert.ok(o.metadata.namespace === 'default' || find('Namespace', o.metadata.namespace!), `${o.kind} ${o.metadata.name}: namespace ${o.metadata.namespace}`);
      }
    });

    it(`${dir}: Deployments refer only to objects, keys, volumes and ports that exist`, () => {
      for (const d of objects.filter((o) => o.kind === 'Deployment') as (Manifest & V1Deployment)[]) {
        const ns = d.metadata.namespace;
        const pod = d.spec!.template.spec!;
        assert.deepEqual(d.spec!.selector.matchLabels, Object.fromEntries(Object.entries(d.spec!.template.metadata!.labels!).filter(([k]) => k in d.spec!.selector.matchLabels!)));
        assert.ok(find('ServiceAccount', pod.serviceAccountName!, ns), `ServiceAccount ${pod.serviceAccountName}`);
        for (const v of pod.volumes ?? []) {
          if (v.secret) assert.ok(find('Secret', v.secret.secretName!, ns), `Secret ${v.secret.secretName}`);
          if (v.configMap) assert.ok(find('ConfigMap', v.configMap.name!, ns), `ConfigMap ${v.configMap.name}`);
        }
        for (const c of containersOf(pod)) {
          for (const e of c.env ?? []) {
            const ref = e.valueFrom?.secretKeyRef;
            if (!ref) continue;
            const secret = find('Secret', ref.name!, ns) as { stringData?: object; data?: object } | undefined;
            assert.ok(secret && ref.key in { ...secret.stringData, ...secret.data }, `${c.name} ${e.name}: Secret ${ref.name} key ${ref.key}`);
          }
          for (const m of c.volumeMounts ?? []) assert.ok(pod.volumes?.some((v) => v.name === m.name), `${c.name}: volume ${m.name}`);
          for (const [kind, probe] of probesOf(c)) {
            const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
            assert.ok(c.ports?.some((p) => p.name === port || p.containerPort === port), `${c.name} ${kind}: port ${port} is a container port`);
          }
        }
        for (const svc of objects.filter((o) => o.kind === 'Service') as (Manifest & V1Service)[]) {
          const labels = d.spec!.template.metadata!.labels!;
          if (!Object.entries(svc.spec!.selector!).every(([k, v]) => labels[k] === v)) continue;
          for (const p of svc.spec!.ports!) assert.ok(pod.containers.some((c) => c.ports?.some((cp) => cp.name === p.targetPort)), `Service port ${p.name} → ${p.targetPort}`);
        }
      }
      for (const svc of objects.filter((o) => o.kind === 'Service') as (Manifest & V1Service)[]) {
        const selected = objects.filter((o) => o.kind === 'Deployment' && Object.entries(svc.spec!.selector!).every(([k, v]) => (o as V1Deployment).spec!.template.metadata!.labels![k] === v));
        assert.equal(selected.length, 1, `Service ${svc.metadata.name} selects one Deployment`);
      }
    });

    it(`${dir}: pods run the compose image as non-root, read-only, no privilege escalation, no capabilities, with requests and limits`, () => {
      for (const d of objects.filter((o) => o.kind === 'Deployment') as (Manifest & V1Deployment)[]) {
        const pod = d.spec!.template.spec!;
        assert.equal(pod.securityContext?.runAsNonRoot, true);
        assert.ok(pod.securityContext!.runAsUser! > 0);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
        for (const c of containersOf(pod)) {
          assert.equal(c.image, IMAGE, `${c.name}: the image compose builds`);
          assert.deepEqual(
            [c.securityContext?.allowPrivilegeEscalation, c.securityContext?.readOnlyRootFilesystem, c.securityContext?.runAsNonRoot, c.securityContext?.capabilities?.drop],
            [false, true, true, ['ALL']],
            `${d.metadata.name}/${c.name}`,
          );
          for (const kind of ['requests', 'limits'] as const) assert.deepEqual(Object.keys(c.resources?.[kind] ?? {}).sort(), ['cpu', 'memory'], `${c.name} ${kind}`);
        }
        assert.ok(pod.containers.every((c) => c.livenessProbe && c.readinessProbe), 'liveness and readiness probes');
      }
    });
  }
});
