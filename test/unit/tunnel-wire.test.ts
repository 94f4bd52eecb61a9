import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectPayload, decodeMessage, encodeMessage, MessageType, parseConnectPayload, TunnelWireError } from '../../src/tunnel/wire';

describe('tunnel wire format (Go binary.PutVarint headers)', () => {
  it('writes the bytes Go writes: zig-zag then base-128, deadline only on Data and Connect', () => {
    // Go: PutVarint(1)=02, PutVarint(2)=04, PutVarint(-1)=01, PutVarint(64)=80 01, PutVarint(300)=d8 04, PutVarint(15000)=b0 ea 01
    const connect = encodeMessage({ id: 1, connId: 2, type: MessageType.Connect, deadline: 15000, payload: connectPayload('tcp', '10.96.0.1:443') });
    assert.deepEqual([...connect.subarray(0, 6)], [0x02, 0x04, 0x04, 0xb0, 0xea, 0x01]);
    assert.equal(connect.subarray(6).toString(), 'tcp/10.96.0.1:443');
    const error = encodeMessage({ id: 64, connId: -1, type: MessageType.Error, payload: Buffer.from('EOF') });
    assert.deepEqual([...error], [0x80, 0x01, 0x01, 0x06, 0x45, 0x4f, 0x46]);
    const data = encodeMessage({ id: 300, connId: 3, type: MessageType.Data, payload: Buffer.alloc(0) });
    assert.deepEqual([...data], [0xd8, 0x04, 0x06, 0x02, 0x00]);
  });

  it('reads back what it writes, for large and negative numbers', () => {
    for (const [id, connId] of [[0, 0], [-5, 7], [2 ** 40, -(2 ** 40)], [Number.MAX_SAFE_INTEGER >> 1, 123456789]] as const) {
      const m = decodeMessage(encodeMessage({ id, connId, type: MessageType.Data, deadline: 60000, payload: Buffer.from('hello') }));
      assert.deepEqual({ ...m, payload: m.payload.toString() }, { id, connId, type: MessageType.Data, deadline: 60000, payload: 'hello' });
    }
    assert.deepEqual(parseConnectPayload(connectPayload('tcp', '[::1]:6443')), { proto: 'tcp', address: '[::1]:6443' });
  });

  it('refuses truncated headers, unknown types and malformed Connect payloads', () => {
    assert.throws(() => decodeMessage(Buffer.from([0x02, 0x04])), TunnelWireError);
    assert.throws(() => decodeMessage(Buffer.from([0x02, 0x04, 0x0c])), /unknown tunnel message type 6/);
    assert.throws(() => decodeMessage(Buffer.from([0x02, 0x04, 0x02, 0xff])), /truncated/);
    assert.throws(() => decodeMessage(Buffer.alloc(12, 0xff)), /too long|out of range/);
    assert.throws(() => parseConnectPayload(Buffer.from('tcp')), TunnelWireError);
    assert.throws(() => parseConnectPayload(Buffer.from('/x')), TunnelWireError);
  });
});
