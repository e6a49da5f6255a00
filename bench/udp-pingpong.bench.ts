// UDP ping-pong (issue 4's benchmark): two xlio-ts stacks in one thread joined by an
// in-memory link, against Node's dgram over kernel loopback in the same process.
// Reports round trips per second and garbage collections per million packets (the
// engine's per-packet allocation shows up as scavenges).

import dgram from 'node:dgram';
import { PerformanceObserver } from 'node:perf_hooks';
import { Stack } from '../src/stack/stack.js';
import { SeededRng } from '../src/rng.js';
import { ipv4 } from '../src/wire/address.js';
import { ANY } from '../src/stack/udp.js';
import { report, type BenchRow } from './report.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');

/** Frames in flight on the wire between the two stacks (delivered by the driver loop). */
class MemoryWire {
  private readonly frames: Uint8Array[] = [];
  private readonly to: Stack[] = [];
  link(to: () => Stack) {
    // The Link contract: the link copies the frame before transmit() returns (a shared-memory
    // ring copies into its slot; here a fresh buffer, which counts in the GC figures).
    return { mtu: 1500, transmit: (f: Uint8Array) => { this.frames.push(f.slice()); this.to.push(to()); } };
  }
  deliverAll(now: number): number {
    let n = 0;
    while (this.frames.length) {
      const f = this.frames.shift()!;
      this.to.shift()!.receive(f, now);
      n++;
    }
    return n;
  }
}

async function oursRoundTrips(count: number): Promise<{ rate: number; gcs: number }> {
  const wire = new MemoryWire();
  const rng = new SeededRng(42);
  const a = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: rng.fork('a'), ipv6: false });
  const b = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 2), rng: rng.fork('b'), ipv6: false });
  a.addAddress(A, 24);
  b.addAddress(B, 24);
  a.attach(wire.link(() => b));
  b.attach(wire.link(() => a));
  const server = b.udpSocket();
  server.bind(ANY, 7);
  const client = a.udpSocket();
  client.connect(B, 7);
  const msg = new Uint8Array(64);
  const once = () => {
    client.sendTo(msg);
    wire.deliverAll(0);
    const d = server.recv()!;
    server.sendTo(d.data, d.address, d.port);
    wire.deliverAll(0);
    if (client.recv() === null) throw new Error('lost a reply');
  };
  for (let i = 0; i < 20_000; i++) once(); // warm-up, ARP resolved
  let gcs = 0;
  const obs = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) once();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  await new Promise((r) => setTimeout(r, 50)); // GC entries are delivered asynchronously
  obs.disconnect();
  return { rate: count / dt, gcs };
}

async function nodeRoundTrips(count: number): Promise<number> {
  const server = dgram.createSocket('udp4');
  const client = dgram.createSocket('udp4');
  server.on('message', (m, r) => server.send(m, r.port, r.address));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  const port = server.address().port;
  const msg = Buffer.alloc(64);
  let done = 0;
  let t0 = 0n;
  const warm = 2000;
  return new Promise((resolve) => {
    client.on('message', () => {
      done++;
      if (done === warm) t0 = process.hrtime.bigint();
      if (done === warm + count) {
        const dt = Number(process.hrtime.bigint() - t0) / 1e9;
        client.close();
        server.close();
        resolve(count / dt);
        return;
      }
      client.send(msg, port, '127.0.0.1');
    });
    client.send(msg, port, '127.0.0.1');
  });
}

const ours = await oursRoundTrips(300_000);
const node = await nodeRoundTrips(20_000);
console.log(`xlio-ts engine: ${(ours.gcs / 0.6).toFixed(1)} GCs per million packets (${ours.gcs} during 600,000 packets)`);
const rows: BenchRow[] = [
  { name: 'UDP ping-pong 64 B, two stacks in one thread vs dgram over loopback', unit: 'round trips/s', ours: ours.rate, baseline: node, baselineName: 'node dgram' },
];
report('xlio-ts engine: UDP ping-pong', rows, new URL('../../bench/results/udp-pingpong.json', import.meta.url).pathname);
