/** Concurrent loads of one key share a single in-flight promise, so a burst of cold requests costs one query. */
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  run(key: string, load: () => Promise<T>): Promise<T> {
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = load().finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }
}
