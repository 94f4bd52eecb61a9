import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDial, PEER_HEADERS, signDial, verifyDial, type DialRequest } from '../../proxy/peers/protocol';

const SECRET = 'f00d'.repeat(16);
const REQ: DialRequest = { clusterId: 'BCS-K8S-1', module: 'kube-agent', target: '10.0.0.1:6443' };

describe('peer relay signatures', () => {
  it('accepts its own signature and carries no secret in the headers', () => {
    const headers = signDial(SECRET, REQ);
    assert.ok(verifyDial(SECRET, headers, REQ));
    assert.ok(!JSON.stringify(headers).includes(SECRET));
    assert.deepEqual(parseDial(headers), REQ);
  });

  it('refuses another secret, another target, a stale timestamp and a malformed signature', () => {
    const headers = signDial(SECRET, REQ);
    assert.equal(verifyDial('beef'.repeat(16), headers, REQ), false);
    assert.equal(verifyDial(SECRET, headers, { ...REQ, target: '10.0.0.2:6443' }), false, 'a signature opens only the target it names');
    assert.equal(verifyDial(SECRET, signDial(SECRET, REQ, Date.now() - 120_000), REQ), false);
    assert.equal(verifyDial(SECRET, { ...headers, [PEER_HEADERS.signature]: 'nonsense' }, REQ), false);
    assert.equal(verifyDial(SECRET, {}, REQ), false);
  });

  it('names what is missing in a malformed request', () => {
    assert.ok('malformed' in parseDial({ [PEER_HEADERS.cluster]: 'x', [PEER_HEADERS.target]: 'h:1', [PEER_HEADERS.module]: 'shell' }));
    assert.ok('malformed' in parseDial({ [PEER_HEADERS.module]: 'kube-agent' }));
  });
});
