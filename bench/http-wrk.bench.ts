// An unmodified Node http server (test/fixtures/apps/http-server.mjs) under wrk, offloaded
// with `node --import xlio-ts/register` (xlio-ts on a packet link) against the same server
// on Node's own net over the kernel, in the same topology (test/support/offload-topo.ts):
// wrk runs in the kernel namespace k against 198.18.0.1:8080 on the veth pair; for the Node
// run, x's kernel gets 198.18.0.1 on its veth0 (after the offloaded run has exited).
// Requests/s and p99 latency side by side; ratio = offloaded / Node.
//
//   node dist/bench/http-wrk.bench.js [--seconds N] [--connections C] [--threads T]
// Needs root and wrk (apt-get install wrk); otherwise prints why and exits 0.

import { join } from 'node:path';
import { haveCommand, netnsSkip } from '../test/support/netns.js';
import { APPS, offloadTopology, parseWrk, startOffloaded, type WrkResult } from '../test/support/offload-topo.js';
import { report, type BenchRow } from './report.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const SECONDS = arg('seconds', 5);
const CONNECTIONS = arg('connections', 32);
const THREADS = arg('threads', 2);

async function main(): Promise<void> {
  const skip = netnsSkip() || (haveCommand('wrk') ? false : 'needs wrk (apt-get install wrk)');
  if (skip !== false) {
    console.log(`http-wrk bench skipped: ${skip}`);
    return;
  }
  const t = offloadTopology('hwb');
  try {
    const url = 'http://198.18.0.1:8080/';
    const wrk = async (): Promise<WrkResult> => {
      // A short warm-up (JIT, ARP, the server's first connections), then the measured run.
      await t.topo.runAsync(t.k, ['wrk', `-t${THREADS}`, `-c${CONNECTIONS}`, '-d1s', url], { timeoutMs: 30_000 });
      const out = await t.topo.runAsync(t.k, ['wrk', `-t${THREADS}`, `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--timeout', '5s', '--latency', url], { timeoutMs: (SECONDS + 30) * 1000 });
      return parseWrk(out);
    };
    const ready = /listening/;

    const off = startOffloaded(t, 'http-server.mjs', ['8080']);
    await off.waitFor(ready, 20_000);
    const ours = await wrk();
    await off.stop('SIGKILL', 5000);

    // Node's own net over the kernel: the address moves to x's kernel on the same veth.
    t.topo.addr(t.x, 'veth0', '198.18.0.1/24');
    const node = t.topo.spawn(t.x, ['env', 'NODE_OPTIONS=', process.execPath, join(APPS, 'http-server.mjs'), '8080']);
    await node.waitFor(ready, 20_000);
    const base = await wrk();
    await node.stop('SIGKILL', 5000);

    for (const [name, w] of [
      ['offloaded (xlio-ts, packet link)', ours],
      ["Node's net (kernel veth)", base],
    ] as const) {
      const problems = [w.socketErrors, w.non2xx].filter((x) => x !== null).join('; ');
      console.log(`${name}: ${w.rps.toFixed(0)} requests/s, p99 ${(w.p99us / 1000).toFixed(2)} ms, ${w.requests} requests${problems ? ` (${problems})` : ''}`);
    }
    const rows: BenchRow[] = [
      { name: `http server under wrk -c${CONNECTIONS} -t${THREADS}, ${SECONDS} s: requests/s`, unit: 'requests/s', ours: ours.rps, baseline: base.rps, baselineName: "Node's net, kernel" },
      { name: 'the same: p99 latency (lower is better)', unit: 'µs', ours: ours.p99us, baseline: base.p99us, baselineName: "Node's net, kernel" },
    ];
    report('An unmodified http server offloaded by xlio-ts/register vs on Node\'s own net (ratio = offloaded / Node)', rows, new URL('../../bench/results/http-wrk.json', import.meta.url).pathname);
  } finally {
    t.topo.destroy();
  }
}

await main();
