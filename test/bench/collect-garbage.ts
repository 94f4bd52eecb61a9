import fs from 'node:fs';
import WebSocket from 'ws';

/** Inspector addresses of the processes opened so far (SIGUSR1 opens it once; later signals do nothing). */
const opened = new Map<number, string>();

/**
 * Reads the inspector's address from what the process printed after `from` (its log file): Node opens the
 * inspector on SIGUSR1, on the port `--inspect-port` names (0: any free one), and prints where.
 */
async function inspectorUrl(pid: number, logFile: string, timeoutMs: number): Promise<string> {
  const known = opened.get(pid);
  if (known) return known;
  const from = fs.statSync(logFile).size;
  process.kill(pid, 'SIGUSR1');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fd = fs.openSync(logFile, 'r');
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size - from, 1 << 20));
    fs.readSync(fd, buf, 0, buf.length, from);
    fs.closeSync(fd);
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(buf.toString('utf8'));
    if (m) {
      opened.set(pid, m[1]!);
      return m[1]!;
    }
    if (Date.now() > deadline) throw new Error(`process ${pid} did not open its inspector (is it running with --inspect-port=0?)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One DevTools protocol call in another Node process; resolves with its result. */
async function inspectorCall(pid: number, logFile: string, method: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
  const ws = new WebSocket(await inspectorUrl(pid, logFile, timeoutMs));
  try {
    return await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method} in process ${pid} did not finish within ${timeoutMs} ms`)), timeoutMs);
      ws.once('error', reject);
      ws.on('message', (data) => {
        const reply = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
        if (reply.id !== 1) return;
        clearTimeout(timer);
        if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
        else resolve(reply.result);
      });
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, method, params })));
    });
  } finally {
    ws.close();
  }
}

/**
 * A full garbage collection in another Node process, through the DevTools protocol
 * (`HeapProfiler.collectGarbage`). A resident-memory reading taken after it counts what the process
 * holds, not garbage V8 has yet to collect: without it, what an idle watch "cost" depended on when V8
 * last ran a full collection (4.7 to 19.2 KiB for the same build after a load run).
 */
export async function collectGarbage(pid: number, logFile: string, timeoutMs = 10_000): Promise<void> {
  await inspectorCall(pid, logFile, 'HeapProfiler.collectGarbage', {}, timeoutMs);
}

/**
 * The value of `expression` (JSON-serialisable) evaluated in another Node process's main context, for
 * readings only the process itself can take (`process.memoryUsage()`, its handles).
 */
export async function evaluateIn<T>(pid: number, logFile: string, expression: string, timeoutMs = 10_000): Promise<T> {
  const r = (await inspectorCall(pid, logFile, 'Runtime.evaluate', { expression, returnByValue: true }, timeoutMs)) as { result: { value: T }; exceptionDetails?: { text: string } };
  if (r.exceptionDetails) throw new Error(`evaluating in process ${pid}: ${r.exceptionDetails.text}`);
  return r.result.value;
}
