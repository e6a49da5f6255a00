// TCP goodput of one bulk transfer in simulated time (issue 6's benchmark): two xlio-ts
// stacks on the simulator joined by a 1 Gbit/s link with 0.5 ms each way (1 ms RTT) and
// Linux's 1000-frame transmit queue, lossless and with 1% random loss in both directions.
// Goodput is application bytes received over simulated time (first write to last byte
// read). Compared with the ideal: the link rate times payload per frame on the wire
// (the simulator serializes the Ethernet frame without preamble, FCS and gap), and for 1%
// loss also with the Mathis et al. bound MSS/RTT · 1.22/√p (Reno without SACK).
// Wall time is printed too: simulation is CPU-bound, so it says how fast the stack runs here.

import { twoStacks } from '../test/support/stacks.js';
import { ipv4 } from '../src/wire/address.js';
import type { LinkParams } from '../src/link/sim/network.js';
import type { TcpConnection } from '../src/stack/tcp/connection.js';
import { report, type BenchRow } from './report.js';

const B = ipv4('198.18.0.2');
const RATE = 1e9;
const ONE_WAY_US = 500;
const BYTES = Number(process.env['XLIO_GOODPUT_BYTES'] ?? 64 << 20);
/** Linux's tcp_wmem maximum: the default 64 KiB send buffer cannot fill a 125 kB pipe (no send-buffer autotuning here yet). */
const SNDBUF = 4 << 20;

interface Run {
  goodputBps: number;
  simSeconds: number;
  wallSeconds: number;
  mss: number;
  retransmits: number;
  framesLost: number;
  framesQueueDropped: number;
  srttUs: number;
}

function bulk(seed: number, params: Partial<LinkParams>): Run {
  const env = twoStacks(seed, { delayUs: ONE_WAY_US, bandwidthBps: RATE, queueFrames: 1000, ...params });
  const l = env.b.tcp.listen(4, 0, 5001);
  // No loss until the connection is up: the handshake is not what is measured.
  const loss = params.loss ?? 0;
  env.link.set('both', { loss: 0 });
  const c = env.a.tcp.connect(B, 5001, { sndbuf: SNDBUF });
  env.settle(10_000);
  const s: TcpConnection | null = l.accept();
  if (s === null) throw new Error('not accepted');
  env.link.set('both', { loss });
  const chunk = new Uint8Array(1 << 20);
  const buf = new Uint8Array(1 << 20);
  let sent = 0, got = 0;
  const t0 = env.sim.now;
  const w0 = performance.now();
  let last = t0;
  while (got < BYTES) {
    if (env.sim.now - t0 > 600e6) throw new Error(`stalled: ${got} of ${BYTES} bytes after 600 s simulated`);
    while (sent < BYTES) {
      const n = c.write(chunk, 0, Math.min(chunk.length, BYTES - sent));
      if (n === 0) break;
      sent += n;
    }
    env.settle(100); // the application turns every 100 µs
    for (let n = s.read(buf); n > 0; n = s.read(buf)) {
      got += n;
      last = env.sim.now;
    }
  }
  const simSeconds = (last - t0) / 1e6;
  const ab = env.link.ab.counters, ba = env.link.ba.counters;
  return {
    goodputBps: (BYTES * 8) / simSeconds, simSeconds, wallSeconds: (performance.now() - w0) / 1000, mss: c.mss,
    retransmits: c.totalRetransmits, framesLost: ab.droppedLoss + ba.droppedLoss, framesQueueDropped: ab.droppedQueue + ba.droppedQueue, srttUs: c.info().rttUs,
  };
}

const lossless = bulk(1, {});
const mss = lossless.mss;
// One full segment on the simulated wire: Ethernet 14 + IPv4 20 + TCP 20 + timestamps 12 + payload.
const frame = 14 + 20 + 20 + (1460 - mss > 0 ? 1460 - mss : 0) + mss;
const ideal = (RATE * mss) / frame;
const idealEthernet = (RATE * mss) / (frame + 4 + 8 + 12); // FCS, preamble+SFD, inter-frame gap on real Ethernet
const lossy: Run[] = [1, 2, 3].map((seed) => bulk(seed, { loss: 0.01 }));
const lossyMean = lossy.reduce((x, r) => x + r.goodputBps, 0) / lossy.length;
const rtt = (2 * ONE_WAY_US) / 1e6;
const mathis = ((mss * 8) / rtt) * (1.22 / Math.sqrt(0.01));

console.log(`\n${(BYTES / 2 ** 20).toFixed(0)} MiB over 1 Gbit/s, 1 ms RTT, 1000-frame queue; MSS ${mss}, ${frame} B frames; sender's buffer ${SNDBUF >> 20} MiB, receiver's default`);
const line = (name: string, r: Run) => console.log(`  ${name.padEnd(22)} ${(r.goodputBps / 1e6).toFixed(1).padStart(7)} Mbit/s  in ${r.simSeconds.toFixed(3)} s simulated, ` +
  `${r.wallSeconds.toFixed(1)} s wall; ${r.retransmits} retransmissions, ${r.framesLost} frames lost, ${r.framesQueueDropped} queue drops, srtt ${(r.srttUs / 1000).toFixed(2)} ms`);
line('lossless', lossless);
lossy.forEach((r, i) => line(`1% loss (seed ${i + 1})`, r));
console.log(`  ideal ${(ideal / 1e6).toFixed(1)} Mbit/s on the simulated wire (${(idealEthernet / 1e6).toFixed(1)} on real Ethernet); Mathis bound at 1%: ${(mathis / 1e6).toFixed(1)} Mbit/s`);

const rows: BenchRow[] = [
  { name: 'bulk goodput, lossless, vs ideal (link rate × payload/frame)', unit: 'bit/s', ours: lossless.goodputBps, baseline: ideal, baselineName: 'ideal' },
  { name: 'bulk goodput, 1% loss (mean of 3 seeds), vs ideal', unit: 'bit/s', ours: lossyMean, baseline: ideal, baselineName: 'ideal' },
  { name: 'bulk goodput, 1% loss (mean of 3 seeds), vs Mathis MSS/RTT·1.22/√p', unit: 'bit/s', ours: lossyMean, baseline: mathis, baselineName: 'Mathis' },
];
report('xlio-ts engine: TCP goodput in simulated time (1 Gbit/s, 1 ms RTT)', rows, new URL('../../bench/results/tcp-goodput-sim.json', import.meta.url).pathname);
