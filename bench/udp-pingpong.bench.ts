// UDP ping-pong (issue 4's benchmark): two xlio-ts stacks in one thread joined by an
// in-memory link, against Node's dgram over kernel loopback in the same process.
// Reports round trips per second and the allocation per packet in steady state: the
// garbage collections seen and the heap growth over a million packets (with no GC in
// between, heap growth is exactly what was allocated).

import dgram from 'node:dgram';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Stack } from '../src/stack/stack.js';
import { SeededRng } from '../src/rng.js';
import { ipv4 } from '../src/wire/address.js';
import { ANY } from '../src/stack/udp.js';
import { report, type BenchRow } from './report.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');

/**
 * The wire between the two stacks: a ring of preallocated frame slots, as the shared-memory
 * link has. transmit() copies the frame into the next slot (the Link contract: copied before
 * transmit returns); deliverAll() hands each to its receiver as a view of the slot.
 */
class MemoryWire {
  private readonly slots: Uint8Array[] = [];
  private readonly lengths: number[] = [];
  private readonly views: Uint8Array[] = [];
  private readonly to: (Stack | null)[] = [];
  private head = 0;
  private count = 0;
  constructor(capacity = 64) {
    for (let i = 0; i < capacity; i++) {
      this.slots.push(new Uint8Array(2048));
      this.lengths.push(0);
      this.views.push(this.slots[i]!);
      this.to.push(null);
    }
  }
  link(to: () => Stack) {
    return {
      mtu: 1500,
      transmit: (f: Uint8Array) => {
        if (this.count === this.slots.length) throw new Error('wire full');
        const i = (this.head + this.count) % this.slots.length;
        this.slots[i]!.set(f);
        if (this.lengths[i] !== f.length) {
          this.lengths[i] = f.length;
          this.views[i] = this.slots[i]!.subarray(0, f.length); // only when a slot's length changes
        }
        this.to[i] = to();
        this.count++;
      },
    };
  }
  deliverAll(now: number): number {
    let n = 0;
    while (this.count !== 0) {
      const i = this.head;
      this.head = (this.head + 1) % this.slots.length;
      this.count--;
      this.to[i]!.receive(this.views[i]!, now);
      n++;
    }
    return n;
  }
}

interface OursResult {
  rate: number;
  gcs: number;
  packets: number;
  heapGrowth: number;
}

async function oursRoundTrips(count: number): Promise<OursResult> {
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
  const buf = new Uint8Array(64);
  const once = () => {
    client.sendTo(msg);
    wire.deliverAll(0);
    // The allocation-free receive: into our buffer, sender left on the socket.
    if (server.recvInto(buf) !== 64) throw new Error('lost a request');
    server.sendTo(buf, server.lastAddress, server.lastPort);
    wire.deliverAll(0);
    if (client.recvInto(buf) < 0) throw new Error('lost a reply');
  };
  for (let i = 0; i < 50_000; i++) once(); // warm-up: ARP resolved, code optimised
  let gcs = 0;
  const obs = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
  obs.observe({ entryTypes: ['gc'] });
  await new Promise((r) => setTimeout(r, 20));
  const heap0 = getHeapStatistics().used_heap_size;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) once();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  const heap1 = getHeapStatistics().used_heap_size;
  await new Promise((r) => setTimeout(r, 50)); // GC entries are delivered asynchronously
  obs.disconnect();
  return { rate: count / dt, gcs, packets: 2 * count, heapGrowth: heap1 - heap0 };
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

const ours = await oursRoundTrips(500_000);
const node = await nodeRoundTrips(20_000);
const perPacket = ours.heapGrowth / ours.packets;
console.log(`xlio-ts engine, steady state over ${ours.packets.toLocaleString('en')} packets: ${ours.gcs} garbage collections, ` +
  `heap growth ${ours.heapGrowth} bytes (${perPacket.toFixed(3)} bytes per packet)` +
  (ours.gcs === 0 && perPacket < 1 ? ' — zero allocations per packet' : ' — ALLOCATES per packet'));
const rows: BenchRow[] = [
  { name: 'UDP ping-pong 64 B, two stacks in one thread vs dgram over loopback', unit: 'round trips/s', ours: ours.rate, baseline: node, baselineName: 'node dgram' },
];
report('xlio-ts engine: UDP ping-pong', rows, new URL('../../bench/results/udp-pingpong.json', import.meta.url).pathname);
