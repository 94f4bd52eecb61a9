import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import type { V1ClusterRoleBinding, V1Deployment, V1PodDisruptionBudget, V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { agentOptions, parseAgentArgs, parseServerCert } from '../../src/agent/options';
import { parseCommandLine } from '../../src/cli/usage';
import { loadConfig } from '../../src/config/load';
import { loadOrCreateKeyFile } from '../../src/crypto/keyring';
import { ConfigError } from '../../src/errors';
import { manifests, type Manifest } from '../helpers/deploy/files';
import { PodFiles } from '../helpers/deploy/pod-files';

const agent = manifests('docker/kubernetes/agent');
const gateway = manifests('docker/kubernetes/gateway');
const deployment = (objects: Manifest[]): V1Deployment => objects.find((o) => o.kind === 'Deployment') as unknown as V1Deployment;
const secret = (objects: Manifest[], name: string): Record<string, string> => (objects.find((o) => o.kind === 'Secret' && o.metadata.name === name)!['stringData'] ?? {}) as Record<string, string>;

describe('agent manifests (docker/kubernetes/agent)', () => {
  const pod = deployment(agent).spec!.template.spec!;
  const container = pod.containers[0]!;
  const sa = { name: pod.serviceAccountName!, namespace: deployment(agent).metadata!.namespace! };

  it('runs `agent` with flags and environment the agent accepts, probing its own listen port', () => {
    assert.equal(container.args![0], 'agent');
    const env: NodeJS.ProcessEnv = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    for (const e of container.env!) {
      const ref = e.valueFrom!.secretKeyRef!;
      env[e.name] = secret(agent, ref.name!)[ref.key];
      if (e.name === 'SERVER_CERT') env[e.name] = undefined; // its placeholder is checked below
    }
    assert.deepEqual(container.env!.map((e) => e.name).sort(), ['REGISTER_TOKEN', 'SERVER_CERT']);
    const opts = agentOptions(parseAgentArgs(container.args!.slice(1)), env);
    assert.equal(opts.useWebsocket, true);
    assert.equal(opts.bkeAddress.protocol, 'https:');
    const health = container.ports!.find((p) => p.name === 'health')!;
    assert.equal(health.containerPort, opts.listen.port);
    assert.deepEqual([container.readinessProbe!.httpGet!.path, container.readinessProbe!.httpGet!.port], ['/healthz', 'health']);
    assert.equal(container.livenessProbe!.tcpSocket!.port, 'health', 'alive while it serves, whether or not the gateway is reachable');
    assert.equal(pod.automountServiceAccountToken, true, 'the agent reads (and reports) its service-account token');
  });

  it('ships no usable secret: the SERVER_CERT placeholder is refused', () => {
    assert.throws(() => parseServerCert(secret(agent, 'bke-info')['bke-cert']!), /SERVER_CERT/);
  });

  it('gives the agent process a Role in default for the kubernetes Endpoints and EndpointSlice only', () => {
    const role = agent.find((o) => o.kind === 'Role') as unknown as V1Role;
    assert.equal(role.metadata!.namespace, 'default', 'where the kubernetes Service lives');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['endpoints'], resourceNames: ['kubernetes'], verbs: ['get'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], resourceNames: ['kubernetes'], verbs: ['get'] },
    ]);
    const binding = agent.find((o) => o.kind === 'RoleBinding') as unknown as V1RoleBinding;
    assert.deepEqual([binding.metadata!.namespace, binding.roleRef], ['default', { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata!.name }]);
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', ...sa }]);
  });

  it('binds the reported credential to cluster-admin, and nothing else cluster-wide', () => {
    const bindings = agent.filter((o) => o.kind === 'ClusterRoleBinding') as unknown as V1ClusterRoleBinding[];
    assert.equal(bindings.length, 1);
    assert.deepEqual(bindings[0]!.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' });
    assert.deepEqual(bindings[0]!.subjects, [{ kind: 'ServiceAccount', ...sa }]);
    assert.equal(agent.filter((o) => o.kind === 'ClusterRole').length, 0, 'no home-made role with the same reach');
  });
});

describe('gateway manifests (docker/kubernetes/gateway)', () => {
  const pod = deployment(gateway).spec!.template.spec!;
  const main = pod.containers[0]!;
  const init = pod.initContainers![0]!;
  const configMap = gateway.find((o) => o.kind === 'ConfigMap')!['data'] as Record<string, string>;
  const dsn = 'mysql://bcs_api:s3cret@mysql.test:3306/bcs_api';
  const keyring = JSON.stringify({ primary: 'k1', keys: [{ id: 'k1', key: crypto.randomBytes(32).toString('base64') }] });
  const peeringSecret = crypto.randomBytes(32).toString('hex');
  /** The Secret values an operator fills in. */
  const filled = { 'bcs-api-secrets/keyring.json': keyring, 'bcs-api-secrets/peering-secret': `${peeringSecret}\n` };

  /** The pod's files in a temp dir, the keyring init container's command run on them, and the config as the loader reads it. */
  function start(overrides: Record<string, string>, env: NodeJS.ProcessEnv) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bcs-deploy-'));
    try {
      return { ...startIn(root, overrides, env), root };
    } catch (err) {
      fs.rmSync(root, { recursive: true, force: true });
      throw err;
    }
  }

  function startIn(root: string, overrides: Record<string, string>, env: NodeJS.ProcessEnv) {
    const files = new PodFiles(root, pod, gateway, overrides);
    const [, script] = init.command!.slice(1);
    const copy = /^install -m 0600 (\S+) (\S+)$/.exec(script!);
    assert.ok(copy, `the init container copies the keyring: ${script}`);
    const target = files.resolve(init, copy[2]!);
    fs.copyFileSync(files.resolve(init, copy[1]!), target);
    fs.chmodSync(target, 0o600);
    const { values, positionals } = parseCommandLine(main.args!);
    assert.deepEqual(positionals, ['serve']);
    const configFile = files.resolve(main, values.config!);
    fs.writeFileSync(configFile, files.rewrite(main, fs.readFileSync(configFile, 'utf8')));
    return { config: loadConfig({ file: configFile, env, cwd: root }) };
  }

  it('loads the ConfigMap with the real loader, every file it names mounted from the Secrets', () => {
    const { config, root } = start(filled, { BCS_API_DSN: dsn });
    try {
      assert.deepEqual([config.ignoredKeys, config.unusedKeys, config.warnings], [[], [], []]);
      assert.ok(config.tls, 'TLS configured');
      assert.equal(config.plain, undefined, 'no plain listener');
      assert.equal(config.autoTls, undefined, 'nothing generated per pod');
      for (const f of [config.tls.certFile, config.tls.keyFile, config.tls.caFile!]) assert.ok(fs.existsSync(f) && f.startsWith(root), f);
      assert.equal(config.database.dialect, 'mysql');
      // The init container's copy is what the loader wants: 0600, readable, 32-byte keys.
      assert.ok('keyFile' in config.encryption);
      assert.equal(loadOrCreateKeyFile(config.encryption.keyFile).created, false);
      assert.equal(pod.automountServiceAccountToken, false, 'the gateway needs no token of its own cluster');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('runs several replicas that relay tunnels to each other: ZooKeeper, the peering secret from the Secret, peers verified by name', () => {
    assert.ok(deployment(gateway).spec!.replicas! >= 2, 'more than one replica');
    const { config, root } = start(filled, { BCS_API_DSN: dsn });
    fs.rmSync(root, { recursive: true, force: true });
    assert.ok(config.zookeeper, 'ZooKeeper configured');
    assert.ok(config.peering, 'peering on');
    assert.equal(config.peering.secret, peeringSecret, 'the mounted Secret key, trailing newline trimmed');
    // Peers are dialled at their pod IPs; the listener's certificate names the public host.
    assert.equal(config.peering.serverName, new URL(config.publicUrl!).hostname);
    assert.equal(config.peering.caFile, config.tls!.caFile, 'verified against the CA the listener certificate comes from');
    // Disruptions take one replica at a time.
    const pdb = gateway.find((o) => o.kind === 'PodDisruptionBudget') as unknown as V1PodDisruptionBudget;
    assert.equal(pdb.spec!.maxUnavailable, 1);
    assert.deepEqual(pdb.spec!.selector!.matchLabels, deployment(gateway).spec!.selector.matchLabels);
  });

  it('probes and publishes the listeners the configuration opens', () => {
    const { config, root } = start(filled, { BCS_API_DSN: dsn });
    fs.rmSync(root, { recursive: true, force: true });
    const port = (name: string): number => main.ports!.find((p) => p.name === name)!.containerPort;
    assert.equal(port('https'), config.tls!.port);
    assert.equal(port('metrics'), config.metrics.listener!.port);
    assert.equal(config.metrics.onMainListener, false);
    const probes = { startupProbe: '/livez', livenessProbe: '/livez', readinessProbe: '/readyz' } as const;
    for (const [kind, pathname] of Object.entries(probes) as [keyof typeof probes, string][]) {
      assert.deepEqual({ ...main[kind]!.httpGet }, { path: pathname, port: 'https', scheme: 'HTTPS' }, kind);
    }
  });

  it('ships no usable secret: each placeholder is refused at start', () => {
    const placeholders = secret(gateway, 'bcs-api-secrets');
    assert.throws(() => start({}, { BCS_API_DSN: placeholders['dsn'] }), (err: unknown) => err instanceof ConfigError && /\$BCS_API_DSN/.test(err.message));
    assert.throws(() => start({ 'bcs-api-secrets/keyring.json': keyring }, { BCS_API_DSN: dsn }), (err: unknown) => err instanceof ConfigError && /peering\.secret_file: at least 32 characters/.test(err.message));
    const { config, root } = start({ 'bcs-api-secrets/peering-secret': peeringSecret }, { BCS_API_DSN: dsn });
    try {
      assert.throws(() => loadOrCreateKeyFile((config.encryption as { keyFile: string }).keyFile), /not 32 bytes/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
    const tlsSecret = secret(gateway, 'bcs-api-tls');
    assert.throws(() => tls.createSecureContext({ cert: tlsSecret['tls.crt'], key: tlsSecret['tls.key'] }));
    assert.equal(configMap['config.yaml']!.includes('password'), false);
  });
});
