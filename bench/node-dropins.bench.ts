// The Node drop-ins (src/node/net.ts, src/node/dgram.ts) against Node's own net/dgram, in one
// process, back to back: 64-byte ping-pong over TCP and UDP (round-trip time p50/p99/p99.9 and
// round trips per second) and a TCP bulk transfer (Gbit/s). Ours run on the process host's
// loopback (no link: the stack routes 127.0.0.1 to itself, and the host's main-thread poll loop
// delivers events); Node's run over the kernel's 127.0.0.1. Both ends of each pair live in this
// one process and this one event loop, so every round trip is two deliveries of events
// through the loop that serves both — the cost the drop-ins add on top of the engine.
//
//   node dist/bench/node-dropins.bench.js [--count N] [--bulk MiB]

import nodeDgram from 'node:dgram';
import nodeNet from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import * as ourDgram from '../src/node/dgram.js';
import * as ourNet from '../src/node/net.js';
import { report, type BenchRow } from './report.js';

type NetMod = typeof nodeNet;
type DgramMod = typeof nodeDgram;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const COUNT = arg('--count', 20_000);
const WARM = Math.min(5_000, COUNT);
const BULK_MIB = arg('--bulk', 256);
const MSG = 64;

interface PingResult {
  p50: number;
  p99: number;
  p999: number;
  rate: number;
  gcs: number;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Counts garbage collections while `fn` runs. */
async function countingGcs<T>(fn: () => Promise<T>): Promise<[T, number]> {
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const r = await fn();
  await new Promise((res) => setTimeout(res, 20)); // gc entries arrive asynchronously
  obs.disconnect();
  return [r, gcs];
}

/**
 * Ping-pong driven by `send` (one 64-byte message) and a callback `onReply` wired by the caller:
 * WARM unmeasured round trips, then COUNT measured, each timed.
 */
function pingPong(send: () => void, setOnReply: (f: () => void) => void): Promise<{ rtts: Float64Array; seconds: number }> {
  const rtts = new Float64Array(COUNT);
  let i = -WARM;
  let t = 0;
  let t0 = 0;
  return new Promise((resolve) => {
    setOnReply(() => {
      const now = performance.now();
      if (i >= 0) rtts[i] = (now - t) * 1000;
      else if (i === -1) t0 = now;
      i++;
      if (i === COUNT) {
        resolve({ rtts, seconds: (now - t0) / 1000 });
        return;
      }
      t = performance.now();
      send();
    });
    t = performance.now();
    send();
  });
}

function summarize(r: { rtts: Float64Array; seconds: number }, gcs: number): PingResult {
  const s = r.rtts.slice().sort();
  return { p50: percentile(s, 0.5), p99: percentile(s, 0.99), p999: percentile(s, 0.999), rate: COUNT / r.seconds, gcs };
}

async function udpPingPong(dgram: DgramMod): Promise<PingResult> {
  const server = dgram.createSocket('udp4');
  const client = dgram.createSocket('udp4');
  server.on('message', (m, r) => server.send(m, r.port, r.address));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  const port = server.address().port;
  await new Promise<void>((r) => client.connect(port, '127.0.0.1', r));
  const msg = Buffer.alloc(MSG, 7);
  const [res, gcs] = await countingGcs(() =>
    pingPong(
      () => client.send(msg),
      (f) => client.on('message', f),
    ),
  );
  await Promise.all([new Promise<void>((r) => client.close(r)), new Promise<void>((r) => server.close(r))]);
  return summarize(res, gcs);
}

async function tcpPingPong(net: NetMod): Promise<PingResult> {
  const server = net.createServer({ noDelay: true } as nodeNet.ServerOpts, (s) => {
    s.on('data', (d) => s.write(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as nodeNet.AddressInfo).port;
  const client = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((r) => client.once('connect', r));
  const msg = Buffer.alloc(MSG, 7);
  let have = 0;
  let onReply: () => void = () => {};
  client.on('data', (d: Buffer) => {
    have += d.length;
    while (have >= MSG) {
      have -= MSG;
      onReply();
    }
  });
  const [res, gcs] = await countingGcs(() =>
    pingPong(
      () => client.write(msg),
      (f) => (onReply = f),
    ),
  );
  client.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return summarize(res, gcs);
}

/** Client → server, `mib` MiB in 64 KiB writes with backpressure; Gbit/s of payload. */
async function tcpBulk(net: NetMod, mib: number): Promise<number> {
  const total = mib * 1024 * 1024;
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let tStart = 0;
  const server = net.createServer((s) => {
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= total) done();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as nodeNet.AddressInfo).port;
  const client = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((r) => client.once('connect', r));
  const chunk = Buffer.alloc(65536, 0x5a);
  let sent = 0;
  tStart = performance.now();
  const pump = (): void => {
    while (sent < total) {
      sent += chunk.length;
      if (!client.write(chunk)) {
        client.once('drain', pump);
        return;
      }
    }
  };
  pump();
  await finished;
  const seconds = (performance.now() - tStart) / 1000;
  client.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return (total * 8) / seconds / 1e9;
}

function line(label: string, r: PingResult): void {
  console.log(
    `${label.padEnd(26)} RTT p50 ${r.p50.toFixed(1).padStart(7)} µs  p99 ${r.p99.toFixed(1).padStart(7)} µs  p99.9 ${r.p999.toFixed(1).padStart(7)} µs  ` +
      `${Math.round(r.rate).toLocaleString('en').padStart(8)} round trips/s  ${r.gcs} GCs over ${COUNT + WARM} round trips`,
  );
}

const ours = { net: ourNet as unknown as NetMod, dgram: ourDgram as unknown as DgramMod };
const node = { net: nodeNet, dgram: nodeDgram };

// Each pair twice, alternating, keeping the better run of each: the machine is noisy.
async function best(fn: () => Promise<PingResult>): Promise<PingResult> {
  const a = await fn();
  const b = await fn();
  return a.p50 <= b.p50 ? a : b;
}

const udpOurs = await best(() => udpPingPong(ours.dgram));
const udpNode = await best(() => udpPingPong(node.dgram));
const tcpOurs = await best(() => tcpPingPong(ours.net));
const tcpNode = await best(() => tcpPingPong(node.net));
const bulkOurs = Math.max(await tcpBulk(ours.net, BULK_MIB), await tcpBulk(ours.net, BULK_MIB));
const bulkNode = Math.max(await tcpBulk(node.net, BULK_MIB), await tcpBulk(node.net, BULK_MIB));

console.log(`\n64-byte ping-pong, both ends in this process (${COUNT} measured round trips after ${WARM} warm-up)`);
line('UDP xlio-ts dgram', udpOurs);
line('UDP node dgram (kernel)', udpNode);
line('TCP xlio-ts net', tcpOurs);
line('TCP node net (kernel)', tcpNode);
console.log(`TCP bulk ${BULK_MIB} MiB: xlio-ts net ${bulkOurs.toFixed(2)} Gbit/s, node net ${bulkNode.toFixed(2)} Gbit/s`);

// Ratios: higher is better for xlio-ts (RTT rows are Node's time over ours).
const rows: BenchRow[] = [
  { name: 'UDP ping-pong 64 B, dgram drop-in vs node:dgram (round trips/s)', unit: 'round trips/s', ours: udpOurs.rate, baseline: udpNode.rate, baselineName: 'node dgram' },
  { name: 'UDP ping-pong 64 B, p50 RTT speed-up (node µs / ours µs)', unit: 'µs⁻¹ ratio', ours: 1 / udpOurs.p50, baseline: 1 / udpNode.p50, baselineName: `node ${udpNode.p50.toFixed(1)} µs vs ours ${udpOurs.p50.toFixed(1)} µs` },
  { name: 'UDP ping-pong 64 B, p99 RTT speed-up', unit: 'µs⁻¹ ratio', ours: 1 / udpOurs.p99, baseline: 1 / udpNode.p99, baselineName: `node ${udpNode.p99.toFixed(1)} µs vs ours ${udpOurs.p99.toFixed(1)} µs` },
  { name: 'TCP ping-pong 64 B, net drop-in vs node:net (round trips/s)', unit: 'round trips/s', ours: tcpOurs.rate, baseline: tcpNode.rate, baselineName: 'node net' },
  { name: 'TCP ping-pong 64 B, p50 RTT speed-up (node µs / ours µs)', unit: 'µs⁻¹ ratio', ours: 1 / tcpOurs.p50, baseline: 1 / tcpNode.p50, baselineName: `node ${tcpNode.p50.toFixed(1)} µs vs ours ${tcpOurs.p50.toFixed(1)} µs` },
  { name: 'TCP ping-pong 64 B, p99 RTT speed-up', unit: 'µs⁻¹ ratio', ours: 1 / tcpOurs.p99, baseline: 1 / tcpNode.p99, baselineName: `node ${tcpNode.p99.toFixed(1)} µs vs ours ${tcpOurs.p99.toFixed(1)} µs` },
  { name: `TCP bulk ${BULK_MIB} MiB, net drop-in vs node:net`, unit: 'Gbit/s', ours: bulkOurs, baseline: bulkNode, baselineName: 'node net' },
];
report('xlio-ts Node drop-ins (net, dgram) vs Node over the kernel, one process', rows, new URL('../../bench/results/node-dropins.json', import.meta.url).pathname);
// The host's loop keeps nothing alive once every socket closed; exit regardless of stragglers.
process.exit(0);
