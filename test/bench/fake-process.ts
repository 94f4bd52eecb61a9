/**
 * The fake kube-apiserver in a process of its own, so the benchmark's load does not share its event loop.
 * `--log-mib <n>`: bench-pod's log is n MiB of 100-byte lines, for the streaming figures (one string, so
 * the fake serves it without joining lines per request).
 */
import { startFakeKube } from '../helpers/fake-kube';

function bigLog(mib: number): string {
  const line = `${'x'.repeat(90)} ${'0'.repeat(8)}\n`;
  return line.repeat(Math.ceil((mib * 1024 * 1024) / line.length));
}

async function main(): Promise<void> {
  const fake = await startFakeKube({ recordRequests: false });
  fake.addPod('default', 'bench-pod');
  const i = process.argv.indexOf('--log-mib');
  if (i > 0) fake.appendLog('default', 'bench-pod', bigLog(Number(process.argv[i + 1])));
  process.stdout.write(`${JSON.stringify({ url: fake.url, caPem: fake.caPem, token: fake.token })}\n`);
  const stop = (): void => void fake.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
