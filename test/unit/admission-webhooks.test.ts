import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCaBundle, validateWebhooks } from '../../src/domain/admission-webhooks';
import { ValidationError } from '../../src/errors';
import { selectorMatches, webhookUrl } from '../../proxy/webhooks/runner';
import type { AdmissionWebhookSpec } from '../../src/store/entities';
import { TEST_CA_PEM } from '../integration/graphql-fixtures';
import { generateCerts } from '../helpers/fake-kube/certs';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.field;
  }
  assert.fail('expected a ValidationError');
}

describe('admission webhook validation', () => {
  it('accepts a base64 PEM bundle of one or more certificates, and nothing else', () => {
    const other = generateCerts();
    assert.equal(parseCaBundle('ca', b64(TEST_CA_PEM)).length, 1);
    const two = parseCaBundle('ca', b64(`${TEST_CA_PEM}\n${other.caPem}`));
    assert.deepEqual(
      two.map((c) => c.subject),
      ['CN=test-ca', 'CN=fake-kube-ca'],
    );
    // Wrapped base64 (as `base64` prints it) is fine.
    assert.equal(parseCaBundle('ca', b64(TEST_CA_PEM).replace(/(.{76})/g, '$1\n')).length, 1);
    for (const bad of ['', '   ', b64('no certificate here'), TEST_CA_PEM, b64(other.keyPem), b64(TEST_CA_PEM.replace('MIIBeDCC', 'MIIBeDXX')), '!!!!']) {
      assert.equal(fieldOf(() => parseCaBundle('x.caBundle', bad)), 'x.caBundle', JSON.stringify(bad));
    }
  });

  it('fills in defaults and names the first invalid field', () => {
    const [w] = validateWebhooks([{ name: 'a', clientConfig: { service: { name: 'svc', namespace: 'ns' }, caBundle: b64(TEST_CA_PEM) } }]);
    assert.deepEqual(w, {
      name: 'a',
      failurePolicy: 'Fail',
      timeoutSeconds: 10,
      clientConfig: { service: { name: 'svc', namespace: 'ns', port: 443, path: '/' }, caBundle: b64(TEST_CA_PEM) },
    });
    const ok = { url: 'https://h/', caBundle: b64(TEST_CA_PEM) };
    assert.equal(validateWebhooks([{ name: 'a', failurePolicy: 'ignore', clientConfig: ok }])[0]!.failurePolicy, 'Ignore');
    assert.equal(fieldOf(() => validateWebhooks([{ name: 'a', failurePolicy: 'Maybe', clientConfig: ok }])), 'admissionWebhooks[0].failurePolicy');
    assert.equal(fieldOf(() => validateWebhooks([{ name: 'a', clientConfig: ok, namespaceSelector: { operator: 'Exists', values: [] } }])), 'admissionWebhooks[0].namespaceSelector.operator');
    assert.equal(fieldOf(() => validateWebhooks([{ name: 'a', clientConfig: { ...ok, url: 'https://user:pw@h/' } }])), 'admissionWebhooks[0].clientConfig.url');
    assert.equal(fieldOf(() => validateWebhooks([{ name: 'a', clientConfig: { service: { name: 's', namespace: 'n', port: 70000 }, caBundle: ok.caBundle } }])), 'admissionWebhooks[0].clientConfig.service.port');
    assert.equal(fieldOf(() => validateWebhooks([{ name: 'a', clientConfig: { service: { name: 's', namespace: 'n', path: 'x' }, caBundle: ok.caBundle } }])), 'admissionWebhooks[0].clientConfig.service.path');
    assert.equal(fieldOf(() => validateWebhooks([{ name: 'a', clientConfig: ok, timeoutSeconds: 2.5 }])), 'admissionWebhooks[0].timeoutSeconds');
    assert.equal(fieldOf(() => validateWebhooks('nope')), 'admissionWebhooks');
  });
});

describe('admission webhook runner helpers', () => {
  const spec = (clientConfig: AdmissionWebhookSpec['clientConfig']): AdmissionWebhookSpec => ({ name: 'w', failurePolicy: 'Fail', timeoutSeconds: 10, clientConfig });

  it('calls the url, or https://<name>.<namespace>:<port><path> for a service', () => {
    assert.equal(webhookUrl(spec({ url: 'https://hooks.example.com:9443/mutate', caBundle: '' })), 'https://hooks.example.com:9443/mutate');
    assert.equal(webhookUrl(spec({ service: { name: 'inject', namespace: 'bcs-system', port: 443, path: '/' }, caBundle: '' })), 'https://inject.bcs-system:443/');
    assert.equal(webhookUrl(spec({ service: { name: 'inject', namespace: 'ns', port: 8443, path: '/v1/mutate' }, caBundle: '' })), 'https://inject.ns:8443/v1/mutate');
  });

  it('matches namespace selectors: In, NotIn, none; an unknown operator never matches', () => {
    assert.equal(selectorMatches(undefined, 'any'), true);
    assert.equal(selectorMatches({ operator: 'In', values: ['a', 'b'] }, 'b'), true);
    assert.equal(selectorMatches({ operator: 'In', values: ['a', 'b'] }, 'c'), false);
    assert.equal(selectorMatches({ operator: 'NotIn', values: ['a'] }, 'a'), false);
    assert.equal(selectorMatches({ operator: 'NotIn', values: ['a'] }, ''), true);
    assert.equal(selectorMatches({ operator: 'Exists' as never, values: ['a'] }, 'a'), false);
  });
});
