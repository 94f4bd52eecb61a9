/** The fake kube-apiserver in a process of its own, so the benchmark's load does not share its event loop. */
import { startFakeKube } from '../helpers/fake-kube';

async function main(): Promise<void> {
  const fake = await startFakeKube({ recordRequests: false });
  fake.addPod('default', 'bench-pod');
  process.stdout.write(`${JSON.stringify({ url: fake.url, caPem: fake.caPem, token: fake.token })}\n`);
  const stop = (): void => void fake.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
