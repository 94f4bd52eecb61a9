/**
 * Many light kube agents in one process, so the gateway's memory per idle tunnel is read alone: each
 * holds one tunnel (the original handshake, over the gateway's TLS listener) and dials the apiserver for
 * every Connect, as test/helpers/tunnel-agent.ts does in tests.
 * Usage: node tunnel-agents.js <config.json>; prints `connected <n>` once every tunnel is open.
 * Config: { gatewayUrl, gatewayCa, address, userToken, caPem, clusters: [{ clusterId, registerToken }] }.
 */
import fs from 'node:fs';
import { TunnelAgent } from '../helpers/tunnel-agent';

interface Config {
  gatewayUrl: string;
  gatewayCa: string;
  address: string;
  userToken: string;
  caPem: string;
  clusters: { clusterId: string; registerToken: string }[];
}

/** Handshakes in flight at once: each costs the gateway a store lookup and write. */
const PARALLEL = 20;

async function main(): Promise<void> {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as Config;
  const agents: TunnelAgent[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cfg.clusters.length) {
      const c = cfg.clusters[next++]!;
      agents.push(await TunnelAgent.connect({ gatewayUrl: cfg.gatewayUrl, gatewayCa: cfg.gatewayCa, address: cfg.address, userToken: cfg.userToken, caPem: cfg.caPem, ...c }));
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  process.stdout.write(`connected ${agents.length}\n`);
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    void Promise.all(agents.map((a) => a.close())).then(() => process.exit(0));
  });
  // A tunnel the gateway closes is a failed measurement, not something to redial.
  for (const a of agents) a.ws.once('close', (code) => stopping || process.stderr.write(`tunnel closed by the gateway (${code})\n`));
}

main().catch((err: unknown) => {
  process.stderr.write(`tunnel agents failed: ${(err as Error).message}\n`);
  process.exit(1);
});
