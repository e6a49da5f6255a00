// TCP bulk transfer (issue 5's benchmark, first cut): two xlio-ts stacks in one thread over
// an in-memory ring of frame slots, against Node's `net` over kernel loopback in the same
// process. Reports goodput in Gbit/s.

import net from 'node:net';
import { Stack } from '../src/stack/stack.js';
import { SeededRng } from '../src/rng.js';
import { ipv4 } from '../src/wire/address.js';
import { report, type BenchRow } from './report.js';
import { prepareChecksumBuffer } from '../src/wire/checksum.js';

const A = ipv4('198.18.0.1');
const B = ipv4('198.18.0.2');

/** A batch of frames in reused slots (a NIC ring copies frames into its slots too). */
class FrameQueue {
  readonly slots: Uint8Array[] = [];
  readonly views: Uint8Array[][] = [];
  readonly dests: Stack[] = [];
  count = 0;
  push(f: Uint8Array, dest: Stack): void {
    if (this.count === this.slots.length) {
      const slot = new Uint8Array(1536);
      prepareChecksumBuffer(slot); // a pooled receive buffer, as a NIC ring's would be
      this.slots.push(slot);
      this.views.push([]);
      this.dests.push(dest);
    }
    const i = this.count++;
    this.slots[i]!.set(f);
    this.dests[i] = dest;
    const v = this.views[i]!;
    this.lengths[i] = f.length;
    if (v[f.length] === undefined) v[f.length] = this.slots[i]!.subarray(0, f.length);
  }
  readonly lengths: number[] = [];
}

/** Frames between the two stacks, delivered in batches; nothing is allocated per frame. */
class Wire {
  private cur = new FrameQueue();
  private spare = new FrameQueue();
  link(to: () => Stack) {
    return { mtu: 1500, transmit: (f: Uint8Array) => this.cur.push(f, to()) };
  }
  deliverAll(now: number): number {
    const q = this.cur;
    const n = q.count;
    if (n === 0) return 0;
    // Frames sent while this batch is delivered go to the other queue.
    this.cur = this.spare;
    this.spare = q;
    for (let i = 0; i < n; i++) q.dests[i]!.receive(q.views[i]![q.lengths[i]!]!, now);
    q.count = 0;
    return n;
  }
}

function ours(bytes: number): number {
  const wire = new Wire();
  const rng = new SeededRng(1);
  const a = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), rng: rng.fork('a'), ipv6: false });
  const b = new Stack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 2), rng: rng.fork('b'), ipv6: false });
  a.addAddress(A, 24);
  b.addAddress(B, 24);
  a.attach(wire.link(() => b));
  b.attach(wire.link(() => a));
  let now = 0;
  const step = () => {
    now += 10; // 10 µs of virtual time per turn: timers stay quiet, as on a fast lossless link
    a.poll(now);
    b.poll(now);
    for (let k = 0; k < 8 && wire.deliverAll(now) > 0; k++);
  };
  const l = b.tcp.listen(4, 0, 5001);
  const c = a.tcp.connect(B, 5001, { noDelay: true });
  for (let i = 0; i < 10; i++) step();
  const s = l.accept()!;
  const chunk = new Uint8Array(65536);
  const buf = new Uint8Array(65536);
  let sent = 0, got = 0;
  const t0 = process.hrtime.bigint();
  while (got < bytes) {
    if (sent < bytes) sent += c.write(chunk, 0, Math.min(chunk.length, bytes - sent));
    step();
    for (let n = s.read(buf); n > 0; n = s.read(buf)) got += n;
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  return (bytes * 8) / dt / 1e9;
}

async function node(bytes: number): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer((sock) => {
      let got = 0;
      let t0 = 0n;
      sock.on('data', (d) => {
        if (t0 === 0n) t0 = process.hrtime.bigint();
        got += d.length;
        if (got >= bytes) {
          const dt = Number(process.hrtime.bigint() - t0) / 1e9;
          sock.destroy();
          server.close();
          resolve((bytes * 8) / dt / 1e9);
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      const c = net.connect(port, '127.0.0.1', () => {
        const chunk = Buffer.alloc(65536);
        let sent = 0;
        const pump = () => {
          while (sent < bytes) {
            sent += chunk.length;
            if (!c.write(chunk)) {
              c.once('drain', pump);
              return;
            }
          }
          c.end();
        };
        pump();
      });
      c.on('error', () => {});
    });
  });
}

const size = 64 << 20;
const oursGbps = ours(size);
const nodeGbps = await node(size);
const rows: BenchRow[] = [
  { name: 'TCP bulk 64 MiB, two stacks in one thread vs net over loopback', unit: 'Gbit/s', ours: oursGbps, baseline: nodeGbps, baselineName: 'node net' },
];
report('xlio-ts engine: TCP throughput', rows, new URL('../../bench/results/tcp-throughput.json', import.meta.url).pathname);
