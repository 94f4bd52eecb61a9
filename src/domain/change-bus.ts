import { EventEmitter } from 'node:events';
import type { ChangeKind } from '../store/entities';

/** `feedId`: the change_events row, when the change was recorded there (followers skip it when polling). */
export type ChangeListener = (kind: ChangeKind, key: string, feedId?: number) => void;

/** In-process fan-out of committed changes, so caches in this process react without polling delay. */
export class ChangeBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every cache subscribes once; there is no per-request listener.
    this.emitter.setMaxListeners(100);
  }

  subscribe(listener: ChangeListener): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  publish(kind: ChangeKind, key: string, feedId?: number): void {
    this.emitter.emit('change', kind, key, feedId);
  }
}
