import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { CHANGES_NODE, ZkChangeSignal, type ZkSessionSource } from '../../src/discovery/change-signal';
import { ZK_EVENT, ZK_RC, ZkError, type ZkClient, type ZkWatcher } from '../../src/discovery/zk-client';

/** Just enough of a client: records writes (answered when the test says), and keeps the data watcher. */
class FakeClient {
  readonly writes: string[] = [];
  readonly pending: (() => void)[] = [];
  watcher?: ZkWatcher;
  setData(_path: string, data: string): Promise<void> {
    this.writes.push(data);
    return new Promise((resolve) => this.pending.push(resolve));
  }
  async getData(_path: string, watcher?: ZkWatcher): Promise<Buffer> {
    this.watcher = watcher;
    return Buffer.alloc(0);
  }
}

class FakeSource extends EventEmitter implements ZkSessionSource {
  client: FakeClient | undefined = new FakeClient();
  connectedClient(): ZkClient | undefined {
    return this.client as unknown as ZkClient | undefined;
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ZooKeeper change signal', () => {
  it('sends a burst as one write, and what came during it as one more', async () => {
    const source = new FakeSource();
    const signal = new ZkChangeSignal(source, { safetyNetMs: 10_000 });
    signal.start();
    for (let id = 1; id <= 100; id += 1) signal.notify(id);
    await turn();
    assert.deepEqual(source.client!.writes, ['100'], 'one write for a burst in one turn');
    for (let id = 101; id <= 150; id += 1) {
      signal.notify(id);
      await turn();
    }
    assert.equal(source.client!.writes.length, 1, 'nothing more while the first write is in flight');
    source.client!.pending.shift()!();
    await turn();
    await turn();
    assert.deepEqual(source.client!.writes, ['100', '150'], 'one more write with the newest id');
    signal.stop();
  });

  it('is up while its watch is set, tells listeners on each event, and owes a write made without a session', async () => {
    const source = new FakeSource();
    const signal = new ZkChangeSignal(source, { safetyNetMs: 10_000 });
    const heard: string[] = [];
    signal.subscribe({ signalled: () => heard.push('signal'), health: (up) => heard.push(up ? 'up' : 'down') });
    signal.start();
    await turn();
    assert.equal(signal.up(), true);
    assert.deepEqual(heard.splice(0), ['up', 'signal'], 'a new watch reads what it may have missed');
    source.client!.watcher!({ type: ZK_EVENT.CHANGED, state: 3, path: CHANGES_NODE });
    await turn();
    assert.deepEqual(heard.splice(0), ['signal']);

    const old = source.client!;
    source.client = undefined;
    source.emit('disconnect');
    assert.equal(signal.up(), false);
    assert.deepEqual(heard.splice(0), ['down']);
    old.watcher!({ type: ZK_EVENT.CHANGED, state: 3, path: CHANGES_NODE });
    await turn();
    assert.deepEqual(heard, [], "the old session's watcher is spent");
    signal.notify(7);
    await turn();

    source.client = new FakeClient();
    source.emit('connect');
    await turn();
    assert.deepEqual(heard.splice(0), ['up', 'signal']);
    assert.deepEqual(source.client.writes, ['7'], 'the write owed from the outage is made');
    signal.stop();
  });

  it('treats a lost connection under a write as owed, not as an error', async () => {
    const source = new FakeSource();
    const client = source.client!;
    client.setData = async () => {
      throw new ZkError(ZK_RC.CONNECTIONLOSS, 'setData', CHANGES_NODE);
    };
    const signal = new ZkChangeSignal(source, { safetyNetMs: 10_000 });
    signal.start();
    await turn();
    signal.notify(3);
    await turn();
    const writes: string[] = [];
    client.setData = async (_p: string, data: string) => void writes.push(data);
    source.emit('connect');
    await turn();
    await turn();
    assert.deepEqual(writes, ['3']);
    signal.stop();
  });
});
