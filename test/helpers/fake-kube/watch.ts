import type { ServerResponse } from 'node:http';
import { matches, type KubeObject, type ListOptions, type ResourceDef, type Store, type StoreEvent } from './resources';
import { status } from './status';

export interface WatchOptions extends ListOptions {
  resourceVersion?: string | null;
  timeoutSeconds?: number;
}

/**
 * Streams `{"type","object"}` lines, one write per event so each goes out as its own chunk immediately:
 * the gateway's "no buffering" tests time how long an event takes to reach the client.
 */
export function serveWatch(store: Store, def: ResourceDef, opts: WatchOptions, res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  const send = (type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n');
  const wanted = (e: StoreEvent) =>
    e.def === def && (e.type === 'ERROR' || e.type === 'BOOKMARK' || matches(e.object as KubeObject, def.namespaced ? opts : { ...opts, namespace: undefined }));

  const rv = opts.resourceVersion;
  if (!rv || rv === '0') {
    for (const o of store.list(def, opts)) send('ADDED', o);
  } else {
    const past = store.eventsSince(def, Number(rv));
    if (!past) {
      send('ERROR', status(410, `too old resource version: ${rv} (${store.resourceVersion})`, 'Expired'));
      res.end();
      return;
    }
    for (const e of past.filter(wanted)) send(e.type, e.object);
  }
  const unsubscribe = store.subscribe((e) => {
    if (wanted(e) && (!def.namespaced || !opts.namespace || e.namespace === opts.namespace || e.type === 'ERROR' || e.type === 'BOOKMARK')) {
      send(e.type, e.object);
    }
  });
  const timer = opts.timeoutSeconds ? setTimeout(() => res.end(), opts.timeoutSeconds * 1000) : undefined;
  res.on('close', () => {
    unsubscribe();
    clearTimeout(timer);
  });
}
