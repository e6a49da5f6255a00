// Worker mode (KI-22): UDP echo throughput with 1 and 2 worker threads, each owning its own
// stack and receive queue, flows spread by the 5-tuple hash. The load comes from one client
// stack on the main thread (test/runtime/flow-client.ts: 24 UDP flows, 4 datagrams in flight
// each, every reply checked). Printed: echoes/s per worker count and the ratio to 1 worker.
// On a 2-core machine three busy threads share two cores, so the curve shows the cost of
// sharing cores as much as the scaling of the workers; read it with `nproc` in mind.
// Run: npx tsc -p . && node dist/bench/runtime-workers.bench.js [--flows 24] [--per-flow 3000]

import { cpus } from 'node:os';
import { loadConfig } from '../src/runtime/config.js';
import { startWorkers } from '../src/runtime/workers.js';
import { ECHO_PORT, FlowClient, SERVER_IP } from '../test/runtime/flow-client.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer`);
  return v;
};
const FLOWS = arg('--flows', 24); // × 4 in flight stays under the 101 datagrams a neighbour entry queues while ARP resolves
const PER_FLOW = arg('--per-flow', 3000);
const ECHO_APP = new URL('../src/runtime/echo-app.js', import.meta.url);

async function run(count: number): Promise<number> {
  const pool = await startWorkers({
    count,
    app: ECHO_APP,
    data: { udpPort: ECHO_PORT, tcpPort: ECHO_PORT, tagWorker: true },
    config: loadConfig({ XLIO_RX_POLL: '1000' }),
    addresses: [`${SERVER_IP}/24`],
    ringBytes: 4 << 20,
  });
  try {
    const client = new FlowClient(pool.rss, { udpFlows: FLOWS, udpPerFlow: PER_FLOW, tcpFlows: 0, tcpBytes: 0 });
    const t0 = performance.now();
    await client.run(120_000);
    const s = (performance.now() - t0) / 1000;
    if (client.error !== null) throw new Error(`${count} worker(s): ${client.error}`);
    return (FLOWS * PER_FLOW) / s;
  } finally {
    await pool.stop();
  }
}

const rows: { workers: number; rate: number }[] = [];
for (const n of [1, 2]) {
  await run(n); // warm-up: JIT and ARP
  rows.push({ workers: n, rate: await run(n) });
}
console.log(`\nworker mode: UDP echoes/s, ${FLOWS} flows × ${PER_FLOW} datagrams, ${cpus().length} CPUs\n`);
console.log('workers  echoes/s    vs 1 worker');
for (const r of rows) console.log(`${String(r.workers).padEnd(7)}  ${(r.rate / 1000).toFixed(1).padStart(7)} k  ${(r.rate / rows[0]!.rate).toFixed(2)}×`);
