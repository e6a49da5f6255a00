// Stress for ShmRing: a producer and a consumer on different threads move 1,000,000 frames
// of varying lengths through a small ring (often full, many skip markers, head and tail
// counters crossing the Int32 wrap), and every byte of every frame is checked. Three ways
// of waiting: both sides spinning, both sides parking on the doorbells (with bursts and
// pauses, so parks and wakes happen thousands of times), and a consumer on the main thread
// parked with Atomics.waitAsync. A watchdog fails a test that stops making progress, with
// the counters, instead of letting it hang.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ShmRing, ShmRingLayout } from '../../src/link/shm-ring.js';
import {
  P_ABORT, P_DATA_PARKS, P_RECEIVED, P_SENT, P_SKIPS, P_SPACE_PARKS, P_WORDS,
  RecordTracker, presetCounters, stressLength, verifyStressFrame, writeStressFrame,
  type Bursts, type ConsumerJob, type ProducerJob, type StressResult,
} from './shm-ring-stress-worker.js';

const WORKER = new URL('./shm-ring-stress-worker.js', import.meta.url);
const FRAMES = 1_000_000;
/** 4 KiB of data: the largest frame is 2044 bytes, and a handful of records fill it. */
const CAPACITY = 4096;
/** Head and tail start 1 MiB before the Int32 counters wrap (and off a lap boundary). */
const START = (2 ** 31 - (1 << 20) - 1000) & ~7 | 0;
/** A single wait or a spin without progress longer than this fails in the worker. */
const WORKER_STALL_MS = 3000;
/** The watchdog fails the test when neither counter moved for this long. */
const WATCHDOG_STALL_MS = 5000;

interface Rig {
  ring: ShmRing;
  progress: Int32Array;
}

function rig(): Rig {
  const sab = new SharedArrayBuffer(ShmRing.bytesFor(CAPACITY));
  ShmRing.format(sab, 0, CAPACITY);
  presetCounters(sab, 0, START);
  return { ring: ShmRing.attach(sab, 0), progress: new Int32Array(new SharedArrayBuffer(P_WORDS * 4)) };
}

/**
 * A run's time limit. Correctness does not depend on it — a lost wake-up or deadlock shows as
 * no progress for WATCHDOG_STALL_MS — but two spinning threads on a 2-vCPU machine share it
 * with whatever else runs (the suite runs two files at once): with a busy neighbour, (a) moved
 * 376,000 frames in 20 s where it alone moves 1,000,000 in 2.
 */
const LIMIT_MS = 90_000;

function counters(p: Int32Array): string {
  return `sent ${Atomics.load(p, P_SENT)}, received ${Atomics.load(p, P_RECEIVED)}, producer parks ${Atomics.load(p, P_SPACE_PARKS)}, consumer parks ${Atomics.load(p, P_DATA_PARKS)}`;
}

/**
 * Resolves when `work` does; rejects with the counters when neither P_SENT nor P_RECEIVED
 * moved for `stallMs`, or when `limitMs` passes. Then raises P_ABORT and terminates
 * the workers, so nothing outlives the test.
 */
async function watched<T>(progress: Int32Array, workers: Worker[], work: Promise<T>, limitMs: number, stallMs = WATCHDOG_STALL_MS): Promise<T> {
  const t0 = performance.now();
  let last = -1;
  let lastChange = t0;
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const now = performance.now();
      const mark = Atomics.load(progress, P_SENT) + Atomics.load(progress, P_RECEIVED);
      if (mark !== last) {
        last = mark;
        lastChange = now;
      } else if (now - lastChange > stallMs) {
        reject(new Error(`no progress for ${stallMs} ms (deadlock?): ${counters(progress)}`));
      }
      if (now - t0 > limitMs) reject(new Error(`not done within ${limitMs} ms: ${counters(progress)}`));
    }, 100);
  });
  try {
    return await Promise.race([work, watchdog]);
  } finally {
    clearInterval(timer);
    Atomics.store(progress, P_ABORT, 1);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function start(job: ProducerJob | ConsumerJob): { worker: Worker; result: Promise<StressResult> } {
  const worker = new Worker(WORKER, { workerData: job });
  const result = new Promise<StressResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    // The result message may be delivered just after 'exit'.
    worker.once('exit', (code) => setTimeout(() => reject(new Error(`${job.role} exited with ${code} and no result`)), 200));
  });
  return { worker, result };
}

function producer(r: Rig, mode: 'spin' | 'park', bursts: Bursts | null): ProducerJob {
  return { kind: 'stress', role: 'producer', sab: r.ring.sab, offset: 0, progress: r.progress.buffer as SharedArrayBuffer, frames: FRAMES, mode, batch: 16, bursts, stallMs: WORKER_STALL_MS };
}

function consumer(r: Rig, mode: 'spin' | 'park', max: number): ConsumerJob {
  return { kind: 'stress', role: 'consumer', sab: r.ring.sab, offset: 0, progress: r.progress.buffer as SharedArrayBuffer, frames: FRAMES, mode, max, startCounter: START, stallMs: WORKER_STALL_MS };
}

function assertDelivered(prod: StressResult, cons: StressResult, r: Rig): void {
  assert.equal(prod.error, null, prod.error ?? '');
  assert.equal(cons.error, null, cons.error ?? '');
  assert.equal(prod.frames, FRAMES);
  assert.equal(cons.frames, FRAMES);
  assert.ok(r.ring.isEmpty());
  // The wrap/skip path ran many times, and the ring was often full.
  assert.ok(cons.skips > 1000, `only ${cons.skips} skip markers`);
  assert.ok(prod.fullEvents > 1000, `the ring was full only ${prod.fullEvents} times`);
}

function rate(frames: number, ms: number): string {
  return `${Math.round(frames / (ms / 1000)).toLocaleString('en')} frames/s`;
}

test('shm ring stress (a): both sides spinning move 1,000,000 frames, every byte checked', { timeout: LIMIT_MS + 10_000 }, async (t) => {
  const r = rig();
  const p = start(producer(r, 'spin', null));
  const c = start(consumer(r, 'spin', 64));
  const [prod, cons] = await watched(r.progress, [p.worker, c.worker], Promise.all([p.result, c.result]), LIMIT_MS);
  assertDelivered(prod, cons, r);
  assert.equal(prod.parks + cons.parks, 0, 'a spinning side parked');
  t.diagnostic(`${rate(FRAMES, cons.elapsedMs)} (${cons.elapsedMs.toFixed(0)} ms); ring full ${prod.fullEvents} times; ${cons.skips} skip markers`);
});

test('shm ring stress (b): both sides parking on the doorbells, in bursts with pauses: thousands of parks, none stranded', { timeout: LIMIT_MS + 10_000 }, async (t) => {
  const r = rig();
  // Bursts of up to 48 frames overrun the 4 KiB ring (the producer parks for space); 15% of
  // them are followed by a pause of up to 0.3 ms (the consumer parks for data), and the rest
  // race the consumer as it parks. A lost wake-up ends a wait at its 3 s timeout: an error.
  const bursts: Bursts = { seed: 0x5eed, maxBurst: 48, pauseChance: 0.15, maxPauseMs: 0.3 };
  const p = start(producer(r, 'park', bursts));
  const c = start(consumer(r, 'park', 16));
  const [prod, cons] = await watched(r.progress, [p.worker, c.worker], Promise.all([p.result, c.result]), LIMIT_MS);
  assertDelivered(prod, cons, r);
  assert.equal(cons.timeouts, 0, 'a consumer wait ran out its timeout (lost wake-up)');
  assert.equal(prod.timeouts, 0, 'a producer wait ran out its timeout (lost wake-up)');
  assert.ok(cons.parks > 2000, `the consumer parked only ${cons.parks} times`);
  assert.ok(prod.parks > 1000, `the producer parked for space only ${prod.parks} times`);
  // Every park that slept was ended by a doorbell, not a timeout.
  assert.ok(cons.wakeups > 0 && prod.notifies > 0 && cons.notifies > 0);
  t.diagnostic(
    `${rate(FRAMES, cons.elapsedMs)} (${cons.elapsedMs.toFixed(0)} ms); consumer parked ${cons.parks}, woken ${cons.wakeups}; ` +
      `producer parked ${prod.parks}; doorbells rung: data ${prod.notifies}, space ${cons.notifies}; ${cons.skips} skip markers`,
  );
});

test('shm ring stress (c): a main-thread consumer parked with Atomics.waitAsync takes 1,000,000 frames from a parking producer', { timeout: LIMIT_MS + 10_000 }, async (t) => {
  const r = rig();
  const ring = r.ring;
  const maxFrame = ring.maxFrameLength;
  const tracker = new RecordTracker(ring, START);
  let expected = 0;
  let bad: string | null = null;
  const onFrame = (bytes: Uint8Array, at: number, len: number): void => {
    if (bad === null) bad = tracker.track(at, len) ?? verifyStressFrame(bytes, at, len, expected, maxFrame);
    expected++;
  };
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  const bursts: Bursts = { seed: 77, maxBurst: 48, pauseChance: 0.05, maxPauseMs: 0.3 };
  const p = start(producer(r, 'park', bursts));
  const consume = async (): Promise<void> => {
    let yieldAt = 1 << 16;
    while (expected < FRAMES && bad === null && Atomics.load(r.progress, P_ABORT) === 0) {
      if (ring.drain(onFrame, 64) > 0) {
        Atomics.store(r.progress, P_RECEIVED, expected);
        // Let the event loop (and the watchdog) in now and then even while frames keep coming.
        if (expected >= yieldAt) {
          yieldAt += 1 << 16;
          await new Promise((resolve) => setImmediate(resolve));
        }
        continue;
      }
      if (!(await ring.waitForDataAsync(WORKER_STALL_MS))) bad = `main-thread consumer: no frame for ${WORKER_STALL_MS} ms after ${expected} (lost wake-up)`;
      Atomics.store(r.progress, P_DATA_PARKS, ring.dataParks);
    }
  };
  const t0 = performance.now();
  let prod: StressResult;
  try {
    [prod] = await watched(r.progress, [p.worker], Promise.all([p.result, consume()]), LIMIT_MS);
  } finally {
    clearInterval(ticker);
  }
  const ms = performance.now() - t0;
  assert.equal(bad, null, bad ?? '');
  assert.equal(prod.error, null, prod.error ?? '');
  assert.equal(expected, FRAMES);
  assert.equal(prod.frames, FRAMES);
  assert.ok(ring.isEmpty());
  assert.ok(tracker.skips > 1000, `only ${tracker.skips} skip markers`);
  assert.equal(ring.dataTimeouts, 0);
  assert.equal(prod.timeouts, 0);
  assert.ok(ring.dataParks > 500, `the main thread parked only ${ring.dataParks} times`);
  assert.ok(prod.parks > 100, `the producer parked for space only ${prod.parks} times`);
  assert.ok(ticks > 0, 'the event loop did not run while the main thread consumed');
  t.diagnostic(
    `${rate(FRAMES, ms)} (${ms.toFixed(0)} ms); main thread parked ${ring.dataParks}, woken ${ring.wakeups}; ` +
      `producer parked ${prod.parks}; ${tracker.skips} skip markers; ${ticks} timer ticks`,
  );
});

test('shm ring stress: the frame check catches a lost, a duplicated and a corrupted frame', () => {
  // The stress tests above can only fail if the check can: feed it bad sequences.
  const maxFrame = 2044;
  const len = (seq: number): number => stressLength(seq, maxFrame);
  const f = (seq: number): Uint8Array => {
    const b = new Uint8Array(2048);
    writeStressFrame(b, 0, len(seq), seq);
    return b;
  };
  assert.equal(verifyStressFrame(f(5), 0, len(5), 5, maxFrame), null);
  assert.match(verifyStressFrame(f(6), 0, len(6), 5, maxFrame) ?? '', /lost/);
  assert.match(verifyStressFrame(f(4), 0, len(4), 5, maxFrame) ?? '', /duplicate or reordered/);
  const g = f(9);
  g[len(9) >> 1] ^= 0x10;
  assert.match(verifyStressFrame(g, 0, len(9), 9, maxFrame) ?? '', /corrupted/);
  assert.match(verifyStressFrame(f(9), 0, len(9) - 1, 9, maxFrame) ?? '', /length/);
  // And a record handed out at a place the ring protocol does not allow.
  const ring = ShmRing.create(4096);
  const tracker = new RecordTracker(ring, 0);
  const base = ring.offset + ShmRingLayout.HEADER_BYTES + 4;
  assert.equal(tracker.track(base, 100), null);
  assert.equal(tracker.track(base + 104, 8), null);
  assert.match(tracker.track(base + 200, 8) ?? '', /expected 120/);
});

test('shm ring stress: the watchdog fails a stuck pair with its counters instead of hanging', { timeout: 10_000 }, async () => {
  // A parking producer and no consumer: it fills the ring and sleeps in waitForSpace.
  const r = rig();
  const p = start(producer(r, 'park', null));
  const t0 = performance.now();
  await assert.rejects(watched(r.progress, [p.worker], p.result, 5000, 500), /no progress for 500 ms \(deadlock\?\): sent \d+, received 0/);
  // The worker was terminated in the middle of its Atomics.wait, well before its own 3 s timeout.
  assert.ok(performance.now() - t0 < WORKER_STALL_MS, `the watchdog took ${performance.now() - t0} ms`);
  assert.ok(!r.ring.isEmpty());
});
