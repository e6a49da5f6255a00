// What publishing stats costs (issue 9: "counting costs nothing measurable when no one
// reads"). UDP ping-pong between two sockets of one xlio-ts stack over its loopback (the
// socket API, as the drop-ins use it), with the stats publisher (src/runtime/stats.ts)
// off, on with no reader (a publish a second), on with a reader asking (every 100 ms), and a
// stress setting (a publish every millisecond) that shows the cost of one publish. The
// ping-pong runs in slices of SLICE round trips with a setImmediate in between, as the
// main-thread poll loop yields, so the publisher's timer runs during the measurement.
// Variants alternate, several rounds each; the best run of each counts.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as immediate } from 'node:timers/promises';
import { SeededRng } from '../src/rng.js';
import { StatsPublisher, demandStats } from '../src/runtime/stats.js';
import * as K from '../src/socket/constants.js';
import { Sockets } from '../src/socket/sockets.js';
import { SockAddr } from '../src/socket/types.js';
import { Stack } from '../src/stack/stack.js';
import { ipv4 } from '../src/wire/address.js';
import { report, type BenchRow } from './report.js';

const SLICE = 100;
const RUN_MS = Number(process.env['STATS_BENCH_MS'] ?? 1500);
const ROUNDS = Number(process.env['STATS_BENCH_ROUNDS'] ?? 4);

const stack = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: new SeededRng(1), ipv6: false });
const api = new Sockets(stack);
const lo = ipv4('127.0.0.1');
const a = api.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK, 0);
const b = api.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK, 0);
api.bind(a, SockAddr.inet(lo, 9000));
api.bind(b, SockAddr.inet(lo, 9001));
api.connect(a, SockAddr.inet(lo, 9001));
api.connect(b, SockAddr.inet(lo, 9000));
// Some more sockets, so a publish has a realistic amount to walk.
for (let i = 0; i < 30; i++) api.bind(api.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK, 0), SockAddr.inet(lo, 9100 + i));
const msg = new Uint8Array(64);
const buf = new Uint8Array(2048);

function slice(n: number): number {
  let got = 0;
  for (let i = 0; i < n; i++) {
    api.send(a, msg);
    got += api.recv(b, buf);
    api.send(b, msg);
    got += api.recv(a, buf);
  }
  return got;
}

/** Round trips per second over RUN_MS. */
async function run(): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  let sink = 0;
  while (performance.now() - t0 < RUN_MS) {
    sink += slice(SLICE);
    n += SLICE;
    await immediate();
  }
  if (sink !== n * 2 * msg.length) throw new Error(`ping-pong lost data: ${sink}`);
  return n / ((performance.now() - t0) / 1000);
}

type Variant = { name: string; start(): (() => void) | null };
const dir = mkdtempSync(join(tmpdir(), 'xlio-stats-bench-'));
let publishes = 0;
const publisher = (fastMs: number, slowMs: number, demand: boolean) => (): (() => void) => {
  const p = new StatsPublisher({ dir, fastMs, slowMs, pid: process.pid, name: 'stats-overhead' });
  p.source = { stack, api };
  const keep = demand ? setInterval(() => demandStats(dir, process.pid), 1000) : null;
  if (demand) demandStats(dir, process.pid);
  return () => {
    publishes += p.writer.bytes.length > 0 ? new DataView(p.writer.bytes.buffer, p.writer.bytes.byteOffset).getFloat64(80, true) : 0;
    if (keep !== null) clearInterval(keep);
    p.close();
  };
};
const variants: Variant[] = [
  { name: 'off', start: () => null },
  { name: 'on, no reader (1 publish/s)', start: publisher(100, 1000, false) },
  { name: 'on, a reader asking (10 publishes/s)', start: publisher(100, 1000, true) },
  { name: 'stress (1000 publishes/s)', start: publisher(1, 1, false) },
];

const best = new Map<string, number>();
const perVariantPublishes = new Map<string, number>();
await run(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const v of variants) {
    publishes = 0;
    const stop = v.start();
    const rate = await run();
    stop?.();
    best.set(v.name, Math.max(best.get(v.name) ?? 0, rate));
    perVariantPublishes.set(v.name, publishes);
  }
}
rmSync(dir, { recursive: true, force: true });

const off = best.get('off')!;
const rows: BenchRow[] = variants.slice(1).map((v) => ({ name: `UDP ping-pong, stats ${v.name}`, unit: 'round trips/s', ours: best.get(v.name)!, baseline: off, baselineName: 'stats off' }));
report('xlio-ts: what publishing stats costs (UDP ping-pong over one stack\'s loopback)', rows, new URL('../../bench/results/stats-overhead.json', import.meta.url).pathname);
for (const v of variants.slice(1)) console.log(`  ${v.name}: ${perVariantPublishes.get(v.name)} publishes in the last ${RUN_MS} ms run; ratio ${(best.get(v.name)! / off).toFixed(3)}`);
// Cost of one publish (32 sockets, 2 rings, 1 pool), measured directly.
const p = new StatsPublisher({ dir: null, pid: process.pid });
p.source = { stack, api };
const t0 = performance.now();
for (let i = 0; i < 2000; i++) p.writer.fill(p.source, i);
console.log(`  one publish (fill of ${p.writer.used} bytes, 32 sockets): ${(((performance.now() - t0) / 2000) * 1000).toFixed(1)} µs`);
p.close();
