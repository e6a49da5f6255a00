import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { SimNetwork, type LinkParams, type SimHost } from '../../src/link/sim/network.js';
import { PcapWriter, readCapture } from '../../src/link/pcap.js';
import { isParseError } from '../../src/wire/error.js';
import { simTest } from '../support/sim.js';
import { Echoer, Pinger, macOf, seqOf, testFrame } from '../support/toy-hosts.js';

/** Records everything it receives; sends nothing. */
class Sink implements SimHost {
  frames: Array<{ at: number; frame: Uint8Array }> = [];
  receive(frame: Uint8Array, now: number): void {
    this.frames.push({ at: now, frame });
  }
  poll(): number {
    return Infinity;
  }
}

/** One-way stream of `count` frames over a link with `params`; returns what arrived. */
function stream(seed: number, count: number, params: Partial<LinkParams> | { ab: Partial<LinkParams>; ba: Partial<LinkParams> }, intervalUs = 10, size = 64) {
  const sim = new SimNetwork(seed);
  const pinger = new Pinger(macOf(1), macOf(2), count, intervalUs, size);
  const sink = new Sink();
  const a = sim.addHost('a', pinger);
  pinger.nic = a;
  const b = sim.addHost('b', sink);
  const link = sim.connect(a, b, params);
  const run = sim.runUntilIdle({ maxEvents: 10 * count + 100 });
  assert.ok(run.idle, 'the run must finish within its event budget');
  return { sim, sink, link };
}

/** |observed - expected| within 5 binomial standard deviations: not flaky, yet a 20% error fails. */
function assertRate(observed: number, trials: number, p: number, what: string): void {
  const expected = trials * p;
  const sd = Math.sqrt(trials * p * (1 - p));
  assert.ok(Math.abs(observed - expected) <= 5 * sd, `${what}: observed ${observed}, expected ${expected.toFixed(0)} ± ${(5 * sd).toFixed(0)}`);
}

function traceHash(seed: number): string {
  const sim = new SimNetwork(seed);
  const h = createHash('sha256');
  sim.capture({ write: (f, t) => { h.update(String(t)); h.update(f); } });
  const pinger = new Pinger(macOf(1), macOf(2), 300, 20);
  const echo = new Echoer(macOf(2));
  const a = sim.addHost('a', pinger);
  const b = sim.addHost('b', echo);
  pinger.nic = a;
  echo.nic = b;
  sim.connect(a, b, { delayUs: 50, jitterUs: 30, loss: 0.05, duplicate: 0.05, reorder: 0.05, corrupt: 0.05, bandwidthBps: 100e6 });
  sim.runUntilIdle({ maxEvents: 100_000 });
  return h.digest('hex');
}

simTest('sim: the same seed reproduces the exact frame sequence; another seed does not', (_t, seed) => {
  assert.equal(traceHash(seed), traceHash(seed));
  assert.notEqual(traceHash(seed), traceHash((seed + 1) >>> 0));
});

simTest('sim: loss rate matches its setting', (_t, seed) => {
  const n = 20_000;
  const { sink, link } = stream(seed, n, { loss: 0.1 });
  assertRate(n - sink.frames.length, n, 0.1, 'lost frames');
  assert.equal(link.ab.counters.droppedLoss, n - sink.frames.length);
});

simTest('sim: Gilbert–Elliott burst loss loses frames in runs', (_t, seed) => {
  const n = 20_000;
  const { sink } = stream(seed, n, { burst: { enterBad: 0.01, leaveBad: 0.2, lossInBad: 1 } });
  const got = new Set(sink.frames.map((f) => seqOf(f.frame)));
  let runs = 0, lost = 0;
  for (let i = 0; i < n; i++) {
    if (got.has(i)) continue;
    lost++;
    if (i === 0 || got.has(i - 1)) runs++;
  }
  // Stationary bad-state share is 0.01 / (0.01 + 0.2) ≈ 4.8%; mean run length 1 / 0.2 = 5.
  assert.ok(lost > 0.03 * n && lost < 0.07 * n, `lost ${lost}`);
  assert.ok(lost / runs > 3, `mean run ${lost / runs}`);
});

simTest('sim: duplication rate matches its setting', (_t, seed) => {
  const n = 20_000;
  const { sink } = stream(seed, n, { duplicate: 0.05 });
  const unique = new Set(sink.frames.map((f) => seqOf(f.frame))).size;
  assert.equal(unique, n);
  assertRate(sink.frames.length - n, n, 0.05, 'duplicates');
});

simTest('sim: reordering rate matches its setting, and jitter alone never reorders', (_t, seed) => {
  const n = 20_000;
  const { sink } = stream(seed, n, { reorder: 0.05, reorderDelayUs: 100, jitterUs: 5 });
  // A held-back frame arrives after the frame sent right after it.
  const arrivalIndex = new Map<number, number>();
  sink.frames.forEach((f, i) => arrivalIndex.set(seqOf(f.frame), i));
  let late = 0;
  for (let s = 0; s + 1 < n; s++) if (arrivalIndex.get(s)! > arrivalIndex.get(s + 1)!) late++;
  assertRate(late, n, 0.05 * 0.95, 'frames overtaken by their successor');
  const j = stream(seed, 5000, { jitterUs: 50 }, 10);
  const seqs = j.sink.frames.map((f) => seqOf(f.frame));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
});

simTest('sim: corruption flips exactly one bit in the expected share of frames', (_t, seed) => {
  const n = 20_000;
  const { sink } = stream(seed, n, { corrupt: 0.02 });
  let corrupted = 0;
  sink.frames.forEach((f, i) => {
    const want = testFrame(macOf(2), macOf(1), i);
    let bits = 0;
    for (let k = 0; k < want.length; k++) {
      let x = want[k]! ^ f.frame[k]!;
      while (x) { bits += x & 1; x >>>= 1; }
    }
    assert.ok(bits <= 1, `frame ${i} differs in ${bits} bits`);
    corrupted += bits;
  });
  assertRate(corrupted, n, 0.02, 'corrupted frames');
});

simTest('sim: delay and jitter bound arrival times', (_t, seed) => {
  const { sink } = stream(seed, 2000, { delayUs: 100, jitterUs: 40 }, 1000);
  const lat = sink.frames.map((f, i) => f.at - i * 1000 - 1); // the pinger starts at t = 1
  assert.ok(Math.min(...lat) >= 100 && Math.max(...lat) <= 140, `latency ${Math.min(...lat)}..${Math.max(...lat)}`);
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  assert.ok(Math.abs(mean - 120) < 2, `mean latency ${mean}`);
});

simTest('sim: bandwidth serializes frames and a full queue tail-drops', (_t, seed) => {
  // 10 frames of 1000 bytes at once over 1 Mbit/s: one every 8 ms.
  const { sink } = stream(seed, 10, { delayUs: 0, bandwidthBps: 1e6 }, 0, 1000);
  assert.deepEqual(sink.frames.map((f) => f.at), Array.from({ length: 10 }, (_, k) => 1 + (k + 1) * 8000));
  const q = stream(seed, 10, { delayUs: 0, bandwidthBps: 1e6, queueFrames: 4 }, 0, 1000);
  assert.equal(q.sink.frames.length, 4);
  assert.equal(q.link.ab.counters.droppedQueue, 6);
});

simTest('sim: frames larger than the MTU are dropped and counted, per direction', (_t, seed) => {
  const big = stream(seed, 50, { ab: { mtu: 100 }, ba: {} }, 10, 200);
  assert.equal(big.sink.frames.length, 0);
  assert.equal(big.link.ab.counters.droppedMtu, 50);
  const fits = stream(seed, 50, { mtu: 186 }, 10, 200);
  assert.equal(fits.sink.frames.length, 50);
});

simTest('sim: a learning switch floods unknown destinations, then forwards', (_t, seed) => {
  const sim = new SimNetwork(seed);
  const sw = sim.addSwitch('sw');
  const pinger = new Pinger(macOf(1), macOf(2), 5, 1000);
  const hosts: SimHost[] = [pinger, new Echoer(macOf(2)), new Sink(), new Sink()];
  hosts.forEach((h, i) => {
    const nic = sim.addHost(`h${i}`, h);
    (h as unknown as { nic: unknown }).nic = nic;
    sim.connect(nic, sw.port(), { delayUs: 5 });
  });
  sim.runUntilIdle({ maxEvents: 10_000 });
  assert.equal(pinger.received.length, 5, 'every echo comes back');
  // Only the first frame, to a not-yet-learned MAC, reached the bystanders.
  assert.equal((hosts[2] as Sink).frames.length, 1);
  assert.equal((hosts[3] as Sink).frames.length, 1);
  assert.equal(sw.flooded, 1);
  assert.equal(sw.forwarded, 9);
});

test('sim: runUntilIdle and runUntil are bounded', () => {
  const sim = new SimNetwork(1);
  const busy: SimHost = { receive() {}, poll: (now) => now + 1 };
  sim.addHost('busy', busy);
  const r = sim.runUntilIdle({ maxEvents: 1000 });
  assert.deepEqual(r, { events: 1000, idle: false });
  const t = sim.runUntilIdle({ maxTimeUs: sim.now + 50 });
  assert.equal(t.idle, false);
  assert.ok(t.events <= 51);
  sim.runUntil(5000);
  assert.equal(sim.now, 5000);
});

simTest('sim: capture writes every delivered frame to a pcap our reader reads back', (_t, seed) => {
  const sim = new SimNetwork(seed);
  const w = new PcapWriter({ resolution: 'ns' });
  sim.capture(w);
  const pinger = new Pinger(macOf(1), macOf(2), 20, 100);
  const echo = new Echoer(macOf(2));
  const a = sim.addHost('a', pinger);
  const b = sim.addHost('b', echo);
  pinger.nic = a;
  echo.nic = b;
  sim.connect(a, b, { delayUs: 7.5 });
  sim.runUntilIdle({ maxEvents: 1000 });
  const cap = readCapture(w.toBytes());
  assert.ok(!isParseError(cap), String(cap));
  assert.equal(cap.packets.length, 40);
  assert.equal(cap.packets[0]!.nanoseconds, 8500); // sent at 1 µs, 7.5 µs on the wire
  assert.deepEqual(cap.packets[1]!.data, echo.received.length ? testFrame(macOf(1), macOf(2), 0) : null);
});
