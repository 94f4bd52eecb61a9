import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { parseHandshake } from '../../proxy/tunnel/handshake';
import { generateCerts } from '../helpers/fake-kube/certs';
import { tunnelParams } from '../helpers/tunnel-agent';

const { caPem } = generateCerts();

function req(headers: Record<string, string>): IncomingMessage {
  return { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) } as unknown as IncomingMessage;
}

const base = (address: string, extra: Record<string, string> = {}): IncomingMessage =>
  req({ 'BCS-API-Tunnel-Module': 'kube-agent', 'BCS-API-Tunnel-ClusterId': 'BCS-K8S-1', 'BCS-API-Tunnel-Token': 'rt', 'BCS-API-Tunnel-Params': tunnelParams({ address, userToken: 'sa', caPem }), ...extra });

describe('tunnel handshake headers', () => {
  it('reads the params into the one address the gateway may ask the agent to dial', () => {
    const v6 = parseHandshake(base('https://[fd00::1]:6443'));
    assert.ok(!('status' in v6));
    assert.equal(v6.params.hostPort, '[fd00::1]:6443');
    const noPort = parseHandshake(base('https://10.96.0.1'));
    assert.ok(!('status' in noPort) && noPort.module === 'kube-agent');
    assert.equal(noPort.params.hostPort, '10.96.0.1:443');
    assert.equal(noPort.params.caCertPem, caPem);
  });

  it('refuses addresses that are not https://host:port, naming the field and not echoing secrets', () => {
    for (const address of ['http://10.0.0.1:6443', 'https://10.0.0.1:6443/api', 'not a url', '']) {
      const r = parseHandshake(base(address));
      assert.ok('status' in r, address);
      assert.equal(r.status, 400);
      assert.match(r.message, /"address"/);
    }
    const badCa = parseHandshake(req({ 'BCS-API-Tunnel-Module': 'kubeagent', 'BCS-API-Tunnel-ClusterId': 'c', 'BCS-API-Tunnel-Token': 'secret-token', 'BCS-API-Tunnel-Params': Buffer.from(JSON.stringify({ address: 'https://a:1', userToken: 'sa', caCert: 'bm90IGEgY2VydA==' })).toString('base64') }));
    assert.ok('status' in badCa);
    assert.match(badCa.message, /"caCert" must be base64 of a PEM/);
    assert.doesNotMatch(badCa.message, /secret-token/);
  });

  it('reads driver handshakes in both spellings, needing only an http(s) address', () => {
    const driverOnly = (module: string, address: unknown): ReturnType<typeof parseHandshake> =>
      parseHandshake(req({ 'BCS-API-Tunnel-Module': module, 'BCS-API-Tunnel-ClusterId': 'BCS-MESOS-1', 'BCS-API-Tunnel-Token': 'rt', 'BCS-API-Tunnel-Params': Buffer.from(JSON.stringify({ address })).toString('base64') }));
    for (const [module, canonical] of [['mesos-driver', 'mesos-driver'], ['mesosdriver', 'mesos-driver'], ['k8s-driver', 'k8s-driver'], ['k8sdriver', 'k8s-driver']]) {
      const r = driverOnly(module!, 'http://10.0.0.5:31000');
      assert.ok(!('status' in r), module);
      assert.equal(r.module, canonical);
      assert.deepEqual(r.params, { address: 'http://10.0.0.5:31000', hostPort: '10.0.0.5:31000' });
    }
    const https = driverOnly('mesosdriver', 'https://10.0.0.5');
    assert.ok(!('status' in https));
    assert.equal(https.params.hostPort, '10.0.0.5:443');
    for (const address of ['ftp://10.0.0.5:1', 'http://10.0.0.5:1/mesosdriver', '', 7]) {
      const r = driverOnly('mesos-driver', address);
      assert.ok('status' in r && r.status === 400 && /"address"/.test(r.message), String(address));
    }
  });

  it('refuses unknown modules with 403 and missing headers with 400', () => {
    const unknown = parseHandshake(base('https://a:1', { 'BCS-API-Tunnel-Module': 'docker' }));
    assert.ok('status' in unknown && unknown.status === 403);
    const missing = parseHandshake(req({ 'BCS-API-Tunnel-Module': 'kube-agent' }));
    assert.ok('status' in missing && missing.status === 400 && /ClusterId/.test(missing.message));
  });
});
