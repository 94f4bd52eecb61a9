import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log';
import { AuditLog, type AuditEvent } from '../../proxy/k8s/audit';
import { pathOf } from '../../src/http/request-path';

function capture(level: string): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const dest = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), cb()) });
  return { log: createLogger(level, dest), lines };
}

const event = (): AuditEvent => ({ requestId: 'r-1', cluster: 'BCS-K8S-40001', userId: 3, user: 'alice', tokenId: 9, verb: 'get', method: 'GET', path: '/tunnels/clusters/BCS-K8S-40001/api', status: 200, bytesIn: 0, bytesOut: 12, durationMs: 4, sourceIp: '127.0.0.1', error: undefined });

describe('audit log', () => {
  it('writes one line per event on the main destination, shaped like the logger lines around it', () => {
    const { log, lines } = capture('info');
    log.info({ component: 'x' }, 'before');
    const auditLog = new AuditLog(log);
    auditLog.write(event());
    auditLog.flush();
    assert.equal(lines.length, 2);
    const [plain, audit] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(Object.keys(audit!), ['level', 'time', 'service', 'audit', 'msg']);
    assert.equal(audit!.level, plain!.level);
    assert.equal(audit!.service, plain!.service);
    assert.match(String(audit!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(audit!.msg, 'proxied request');
    assert.deepEqual(audit!.audit, { requestId: 'r-1', cluster: 'BCS-K8S-40001', userId: 3, user: 'alice', tokenId: 9, verb: 'get', method: 'GET', path: '/tunnels/clusters/BCS-K8S-40001/api', status: 200, bytesIn: 0, bytesOut: 12, durationMs: 4, sourceIp: '127.0.0.1' });
  });

  it('escapes what a client controls in the path, so a line stays one JSON line', () => {
    const { log, lines } = capture('info');
    const audit = new AuditLog(log);
    audit.write({ ...event(), path: '/tunnels/clusters/x/"}\n{"forged":true' });
    audit.flush();
    assert.equal(lines.length, 1);
    assert.equal((JSON.parse(lines[0]!) as { audit: AuditEvent }).audit.path, '/tunnels/clusters/x/"}\n{"forged":true');
  });

  it('follows the main logger level, also when it changes while serving', () => {
    const { log, lines } = capture('warn');
    const audit = new AuditLog(log);
    audit.write(event());
    audit.flush();
    assert.equal(lines.length, 0);
    log.level = 'info';
    audit.write(event());
    audit.flush();
    assert.equal(lines.length, 1);
  });

  it('hands the lines of one event-loop turn to the destination in one write, in order, by the next turn', async () => {
    const chunks: string[] = [];
    const log = createLogger('info', new Writable({ write: (chunk: Buffer, _enc, cb) => (chunks.push(chunk.toString()), cb()) }));
    const audit = new AuditLog(log);
    for (let i = 0; i < 3; i += 1) audit.write({ ...event(), requestId: `r-${i}` });
    assert.equal(chunks.length, 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(chunks.length, 1);
    assert.deepEqual(chunks[0]!.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { audit: AuditEvent }).audit.requestId), ['r-0', 'r-1', 'r-2']);
  });

  it('writes a batch at once when it grows large, without waiting for the turn to end', () => {
    const chunks: string[] = [];
    const log = createLogger('info', new Writable({ write: (chunk: Buffer, _enc, cb) => (chunks.push(chunk.toString()), cb()) }));
    const audit = new AuditLog(log);
    for (let i = 0; i < 200; i += 1) audit.write({ ...event(), requestId: `r-${i}` });
    assert.ok(chunks.length >= 1, 'a large batch is written before the turn ends');
    audit.flush();
    assert.equal(chunks.join('').split('\n').filter(Boolean).length, 200);
  });

  it('records the path without its query string', () => {
    assert.equal(pathOf('/tunnels/clusters/c/api/v1/pods?watch=1&token=x'), '/tunnels/clusters/c/api/v1/pods');
    assert.equal(pathOf('/tunnels/clusters/c/api'), '/tunnels/clusters/c/api');
  });
});
