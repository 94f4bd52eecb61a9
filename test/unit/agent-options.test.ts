import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { AgentUsageError, agentOptions, parseAgentArgs, parseServerCert } from '../../src/agent/options';
import { BIN, writeServiceAccount } from '../helpers/agent';
import { GATEWAY_CERT_PEM } from '../integration/rest-fixtures';

const SA_DIR = writeServiceAccount('sa-token-value-never-printed', GATEWAY_CERT_PEM);
after(() => fs.rmSync(SA_DIR, { recursive: true, force: true }));

const ENV = { REGISTER_TOKEN: 'rt-secret-value', KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', BCS_AGENT_SERVICEACCOUNT_DIR: SA_DIR };
const REQUIRED = ['--bke-address', 'https://bcs-api:8443', '--cluster-id', 'BCS-K8S-1'];
const options = (args: string[], env: NodeJS.ProcessEnv = ENV) => agentOptions(parseAgentArgs(args), env);

function agent(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [BIN, 'agent', ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 60_000 });
}

describe('bcs-api agent: flags and environment', () => {
  it('takes the original kube-agent flags, with their defaults', () => {
    const d = options(REQUIRED);
    assert.equal(d.bkeAddress.href, 'https://bcs-api:8443/');
    assert.equal(d.clusterId, 'BCS-K8S-1');
    assert.equal(d.periodMs, 60_000);
    assert.deepEqual(d.listen, { host: '0.0.0.0', port: 10254 });
    assert.equal(d.giveUpAfterMs, 600_000);
    assert.equal(d.insecureSkipVerify, false);
    assert.equal(d.useWebsocket, false);
    assert.deepEqual(d.externalProxyAddresses, []);
    assert.equal(d.registerToken, 'rt-secret-value');
    assert.deepEqual(d.service, { host: '10.96.0.1', port: 443 });
    assert.equal(d.saDir, SA_DIR);
    assert.equal(options(REQUIRED, { ...ENV, BCS_AGENT_SERVICEACCOUNT_DIR: '' }).saDir, '/var/run/secrets/kubernetes.io/serviceaccount');

    const o = options([...REQUIRED, '--periodsync=5', '--insecureSkipVerify', '--listen-addr', '[::1]:9000', '--give-up-after', '0', '--external-proxy-addresses', 'https://a:6443; https://b:6443;']);
    assert.equal(o.periodMs, 5000);
    assert.equal(o.insecureSkipVerify, true);
    assert.deepEqual(o.listen, { host: '::1', port: 9000 });
    assert.equal(o.giveUpAfterMs, 0);
    assert.deepEqual(o.externalProxyAddresses, ['https://a:6443', 'https://b:6443']);
    // pflag spells booleans --flag=true as well.
    assert.equal(options([...REQUIRED, '--use-websocket=true']).useWebsocket, true);
    assert.equal(options([...REQUIRED, '--use-websocket=false']).useWebsocket, false);
  });

  it('reads SERVER_CERT as PEM or as base64 of PEM, and refuses anything else without echoing it', () => {
    const pem = parseServerCert(GATEWAY_CERT_PEM);
    assert.equal(parseServerCert(Buffer.from(GATEWAY_CERT_PEM).toString('base64')), pem);
    assert.equal(options(REQUIRED, { ...ENV, SERVER_CERT: GATEWAY_CERT_PEM }).serverCa, pem);
    assert.throws(() => parseServerCert('not-a-cert-secretish'), (e: Error) => e instanceof AgentUsageError && /SERVER_CERT/.test(e.message) && !e.message.includes('secretish'));
    assert.throws(() => parseServerCert('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), /not a valid PEM/);
  });

  it('refuses bad values and contradictions, naming the setting', () => {
    const bad: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['--cluster-id', 'c'], ENV, /--bke-address is required/],
      [['--bke-address', 'https://x'], ENV, /--cluster-id is required/],
      [REQUIRED, { ...ENV, REGISTER_TOKEN: '' }, /REGISTER_TOKEN is required/],
      [['--bke-address', 'ftp://x', '--cluster-id', 'c'], ENV, /--bke-address/],
      [[...REQUIRED, '--periodsync', '0'], ENV, /--periodsync/],
      [[...REQUIRED, '--periodsync', '1m'], ENV, /--periodsync/],
      [[...REQUIRED, '--give-up-after', '-1'], ENV, /--give-up-after/],
      [[...REQUIRED, '--listen-addr', '10254'], ENV, /--listen-addr/],
      [[...REQUIRED, '--external-proxy-addresses', 'http://a:6443'], ENV, /must be an https:\/\/ URL/],
      [[...REQUIRED, '--insecureSkipVerify'], { ...ENV, SERVER_CERT: GATEWAY_CERT_PEM }, /--insecureSkipVerify and SERVER_CERT/],
      [[...REQUIRED, '--use-websocket', '--external-proxy-addresses', 'https://a:6443'], ENV, /report mode only/],
      [REQUIRED, { ...ENV, KUBERNETES_SERVICE_HOST: '' , KUBERNETES_SERVICE_PORT: '' }, /KUBERNETES_SERVICE_HOST/],
      [[...REQUIRED, '--use-websocket=yes'], ENV, /--use-websocket: must be true or false/],
      [[...REQUIRED, '--kubeconfig', 'x'], ENV, /kubeconfig/],
      [[...REQUIRED, 'stray'], ENV, /stray/],
    ];
    for (const [args, env, message] of bad) assert.throws(() => options(args, env), (e: Error) => e instanceof AgentUsageError && message.test(e.message), args.join(' '));
    // Report mode with fixed addresses does not need the in-cluster service.
    assert.equal(options([...REQUIRED, '--external-proxy-addresses', 'https://a:6443'], { ...ENV, KUBERNETES_SERVICE_HOST: undefined, KUBERNETES_SERVICE_PORT: undefined }).service, undefined);
  });

  it('the binary prints its usage for --help and exits 2 with the reason on a mistake, without secrets', () => {
    const help = agent(['--help'], {});
    assert.equal(help.status, 0, help.stderr);
    for (const flag of ['--bke-address', '--cluster-id', '--periodsync', '--insecureSkipVerify', '--use-websocket', '--external-proxy-addresses', '--listen-addr', '--give-up-after', 'REGISTER_TOKEN', 'SERVER_CERT']) {
      assert.ok(help.stdout.includes(flag), flag);
    }
    const top = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    assert.match(top.stdout, /agent \[flags\]/);

    const unknown = agent([...REQUIRED, '--kubeconfig', '/x'], ENV);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /bcs-api agent: .*--kubeconfig/);
    assert.match(unknown.stderr, /bcs-api agent --help/);

    const missing = agent(['--bke-address', 'https://x'], { ...ENV, REGISTER_TOKEN: undefined });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--cluster-id is required/);

    const noToken = agent(REQUIRED, { ...ENV, REGISTER_TOKEN: undefined });
    assert.equal(noToken.status, 2);
    assert.match(noToken.stderr, /REGISTER_TOKEN is required/);

    const conflict = agent([...REQUIRED, '--insecureSkipVerify'], { ...ENV, SERVER_CERT: Buffer.from(GATEWAY_CERT_PEM).toString('base64') });
    assert.equal(conflict.status, 2);
    assert.match(conflict.stderr, /--insecureSkipVerify and SERVER_CERT/);

    const noSa = agent(REQUIRED, { ...ENV, BCS_AGENT_SERVICEACCOUNT_DIR: `${SA_DIR}-missing` });
    assert.equal(noSa.status, 2);
    assert.match(noSa.stderr, /cannot read the service account/);

    for (const r of [unknown, missing, noToken, conflict, noSa]) {
      assert.ok(!r.stderr.includes('rt-secret-value') && !r.stdout.includes('rt-secret-value'));
      assert.ok(!r.stderr.includes('sa-token-value') && !r.stdout.includes('sa-token-value'));
    }
  });
});
