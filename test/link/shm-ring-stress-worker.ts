// Worker side of shm-ring-stress.test.ts, and the frame format both sides share.
//
// Frame `seq` has a length that is a function of seq and the ring (mostly short, some
// mid-sized, and some close to the ring's largest frame, so records often do not fit before
// the end of the lap and the producer writes skip markers), and its bytes are
//   [seq u32 LE][xorshift stream seeded by seq][FNV-1a of all bytes before, u32 LE].
// The consumer regenerates the stream and compares every byte, so a lost, duplicated,
// reordered, truncated or corrupted frame is caught at that frame.
//
// Progress goes to a shared Int32Array (P_* below) that the test's watchdog reads; a worker
// that sees P_ABORT stops. Every wait has a timeout, so no worker can hang.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ShmRing, ShmRingLayout } from '../../src/link/shm-ring.js';
import type { WorkerResult } from '../unit/shm-ring-worker.js';

// Progress words.
export const P_SENT = 0; // frames published by the producer
export const P_RECEIVED = 1; // frames verified by the consumer
export const P_SPACE_PARKS = 2;
export const P_DATA_PARKS = 3;
export const P_SKIPS = 4; // skip markers the consumer stepped over
export const P_ABORT = 5; // set by the watchdog
export const P_WORDS = 8;

/** Length of frame `seq` in a ring whose largest frame is `maxFrame`. */
export function stressLength(seq: number, maxFrame: number): number {
  const h = Math.imul(seq ^ (seq >>> 15), 0x2c1b3c6d) >>> 0;
  const r = h & 1023;
  const x = h >>> 10;
  if (r < 900) return 8 + (x % 120); // 88%: 8..127
  if (r < 1000) return 128 + (x % 900); // 10%: 128..1027
  return maxFrame - (x % 64); // 2%: the largest records, which rarely fit before the end of the lap
}

function fnvStep(h: number, b: number): number {
  return Math.imul(h ^ b, 0x01000193);
}

/** Writes frame `seq` of `len` (>= 8) bytes at `bytes[at..]`. */
export function writeStressFrame(bytes: Uint8Array, at: number, len: number, seq: number): void {
  bytes[at] = seq & 0xff;
  bytes[at + 1] = (seq >>> 8) & 0xff;
  bytes[at + 2] = (seq >>> 16) & 0xff;
  bytes[at + 3] = (seq >>> 24) & 0xff;
  let h = 0x811c9dc5;
  h = fnvStep(fnvStep(fnvStep(fnvStep(h, bytes[at]!), bytes[at + 1]!), bytes[at + 2]!), bytes[at + 3]!);
  let x = (seq * 2 + 1) | 0;
  const end = at + len - 4;
  for (let i = at + 4; i < end; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const b = x & 0xff;
    bytes[i] = b;
    h = fnvStep(h, b);
  }
  bytes[end] = h & 0xff;
  bytes[end + 1] = (h >>> 8) & 0xff;
  bytes[end + 2] = (h >>> 16) & 0xff;
  bytes[end + 3] = (h >>> 24) & 0xff;
}

/** Checks every byte of a received frame against frame `expected`; null when it is exactly that frame. */
export function verifyStressFrame(bytes: Uint8Array, at: number, len: number, expected: number, maxFrame: number): string | null {
  if (len < 8) return `frame ${expected}: runt of ${len} bytes`;
  const seq = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
  if (seq !== expected >>> 0) return `expected frame ${expected}, got ${seq} (${seq < expected ? 'duplicate or reordered' : 'frames lost'})`;
  const want = stressLength(seq, maxFrame);
  if (len !== want) return `frame ${seq}: length ${len}, expected ${want}`;
  let h = 0x811c9dc5;
  h = fnvStep(fnvStep(fnvStep(fnvStep(h, bytes[at]!), bytes[at + 1]!), bytes[at + 2]!), bytes[at + 3]!);
  let x = (seq * 2 + 1) | 0;
  const end = at + len - 4;
  for (let i = at + 4; i < end; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const b = bytes[i]!;
    if (b !== (x & 0xff)) return `frame ${seq}: byte ${i - at} is ${b}, expected ${x & 0xff} (corrupted)`;
    h = fnvStep(h, b);
  }
  const sum = (bytes[end]! | (bytes[end + 1]! << 8) | (bytes[end + 2]! << 16) | (bytes[end + 3]! << 24)) >>> 0;
  if (sum !== h >>> 0) return `frame ${seq}: checksum ${sum}, expected ${h >>> 0} (corrupted)`;
  return null;
}

/**
 * Follows where records must start, to count skip markers and to catch a frame handed out
 * at a place the ring's protocol does not allow. Fed every frame's `at` in order.
 */
export class RecordTracker {
  skips = 0;
  private next: number; // data index where the next record must start
  constructor(
    private readonly ring: ShmRing,
    startCounter: number,
  ) {
    this.next = startCounter & (ring.capacity - 1);
  }
  /** Null when the frame at `at` of `len` bytes starts where it must; else the complaint. */
  track(at: number, len: number): string | null {
    const idx = at - 4 - this.ring.offset - ShmRingLayout.HEADER_BYTES;
    if (idx !== this.next) {
      // A record that did not fit before the end of the lap starts at index 0 after a skip.
      if (idx !== 0) return `record at index ${idx}, expected ${this.next}`;
      this.skips++;
    }
    this.next = (idx + ((len + 11) & ~7)) & (this.ring.capacity - 1);
    return null;
  }
}

/** Sets a ring's head and tail counters before anyone attaches (to start near the Int32 wrap). */
export function presetCounters(sab: SharedArrayBuffer, offset: number, counter: number): void {
  const h = new Int32Array(sab, offset, ShmRingLayout.HEADER_BYTES >> 2);
  h[ShmRingLayout.HEAD] = counter;
  h[ShmRingLayout.TAIL] = counter;
}

/** A small seeded PRNG (xorshift32) for burst sizes and pauses. */
export class XorShift32 {
  private s: number;
  constructor(seed: number) {
    this.s = seed | 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x;
    return (x >>> 0) / 4294967296;
  }
}

export interface Bursts {
  seed: number;
  maxBurst: number;
  /** Probability of a pause after a burst (otherwise the next burst follows at once, racing the consumer's park). */
  pauseChance: number;
  maxPauseMs: number;
}

export interface ProducerJob {
  kind: 'stress';
  role: 'producer';
  sab: SharedArrayBuffer;
  offset: number;
  progress: SharedArrayBuffer;
  frames: number;
  /** spin: retry a full ring; park: waitForSpace. */
  mode: 'spin' | 'park';
  /** Frames per publish when not bursting. */
  batch: number;
  bursts: Bursts | null;
  /** A single wait (or spin without progress) longer than this is a lost wake-up or a stuck peer. */
  stallMs: number;
}

export interface ConsumerJob {
  kind: 'stress';
  role: 'consumer';
  sab: SharedArrayBuffer;
  offset: number;
  progress: SharedArrayBuffer;
  frames: number;
  mode: 'spin' | 'park';
  /** Frames per drain. */
  max: number;
  startCounter: number;
  stallMs: number;
}

/** The unit test's worker result (type only: importing that module's code would run its worker), plus wrap-around skips. */
export interface StressResult extends WorkerResult {
  role: 'producer' | 'consumer';
  skips: number;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function produce(job: ProducerJob): StressResult {
  const ring = ShmRing.attach(job.sab, job.offset);
  const progress = new Int32Array(job.progress);
  const maxFrame = ring.maxFrameLength;
  const scratch = new Uint8Array(maxFrame);
  const rng = job.bursts === null ? null : new XorShift32(job.bursts.seed);
  const t0 = performance.now();
  let error: string | null = null;
  let burstLeft = 0;
  let inBatch = 0;
  for (let seq = 0; seq < job.frames && error === null; seq++) {
    const len = stressLength(seq, maxFrame);
    const inPlace = (seq & 1) === 0; // even frames written in place (reserve), odd ones copied in (stage)
    if (!inPlace) writeStressFrame(scratch, 0, len, seq);
    let stuckSince = -1;
    for (;;) {
      if (inPlace) {
        const at = ring.reserve(len);
        if (at >= 0) {
          writeStressFrame(ring.bytes, at, len, seq);
          break;
        }
      } else if (ring.stage(scratch, 0, len)) break;
      // Full.
      if (job.mode === 'park') {
        if (!ring.waitForSpace(len, job.stallMs)) error = `producer: no space for frame ${seq} within ${job.stallMs} ms (lost wake-up or stuck consumer)`;
        Atomics.store(progress, P_SPACE_PARKS, ring.spaceParks);
      } else {
        if (ring.stagedBytes !== 0) ring.publish(); // the consumer can only free what it sees
        if ((ring.fullEvents & 0xfff) === 0) {
          const now = performance.now();
          if (stuckSince < 0) stuckSince = now;
          else if (now - stuckSince > job.stallMs) error = `producer: ring full for ${job.stallMs} ms at frame ${seq} (stuck consumer)`;
          if (Atomics.load(progress, P_ABORT) !== 0) error = 'producer: aborted by the watchdog';
        }
      }
      if (error !== null) break;
      inBatch = 0;
    }
    if (error !== null) break;
    if (rng !== null) {
      if (burstLeft === 0) burstLeft = 1 + Math.floor(rng.next() * job.bursts!.maxBurst);
      if (--burstLeft === 0) {
        ring.publish();
        Atomics.store(progress, P_SENT, seq + 1);
        if (rng.next() < job.bursts!.pauseChance) Atomics.wait(sleepCell, 0, 0, rng.next() * job.bursts!.maxPauseMs);
        if (Atomics.load(progress, P_ABORT) !== 0) error = 'producer: aborted by the watchdog';
      }
    } else if (++inBatch === job.batch) {
      ring.publish();
      inBatch = 0;
      if ((seq & 0x3ff) < job.batch) Atomics.store(progress, P_SENT, seq + 1);
    }
  }
  ring.publish();
  Atomics.store(progress, P_SENT, ring.pushedFrames);
  Atomics.store(progress, P_SPACE_PARKS, ring.spaceParks);
  return {
    role: 'producer', frames: ring.pushedFrames, error, elapsedMs: performance.now() - t0, parks: ring.spaceParks, wakeups: 0,
    timeouts: ring.spaceTimeouts, fullEvents: ring.fullEvents, notifies: ring.dataNotifies, skips: 0,
  };
}

// Consumer state at module level, so the drain handler is one function made once.
let cExpected = 0;
let cError: string | null = null;
let cMaxFrame = 0;
let cTracker: RecordTracker | null = null;
function onFrame(bytes: Uint8Array, at: number, len: number): void {
  if (cError === null) cError = cTracker!.track(at, len) ?? verifyStressFrame(bytes, at, len, cExpected, cMaxFrame);
  cExpected++;
}

function consume(job: ConsumerJob): StressResult {
  const ring = ShmRing.attach(job.sab, job.offset);
  const progress = new Int32Array(job.progress);
  cExpected = 0;
  cError = null;
  cMaxFrame = ring.maxFrameLength;
  cTracker = new RecordTracker(ring, job.startCounter);
  const t0 = performance.now();
  let idle = 0;
  let idleSince = -1;
  while (cExpected < job.frames && cError === null) {
    if (ring.drain(onFrame, job.max) > 0) {
      idle = 0;
      idleSince = -1;
      Atomics.store(progress, P_RECEIVED, cExpected);
      continue;
    }
    if (job.mode === 'park') {
      if (!ring.waitForData(job.stallMs)) cError = `consumer: no frame for ${job.stallMs} ms after ${cExpected} of ${job.frames} (lost wake-up or stuck producer)`;
      Atomics.store(progress, P_DATA_PARKS, ring.dataParks);
    } else if ((++idle & 0xffff) === 0) {
      const now = performance.now();
      if (idleSince < 0) idleSince = now;
      else if (now - idleSince > job.stallMs) cError = `consumer: ring empty for ${job.stallMs} ms after ${cExpected} of ${job.frames} (stuck producer)`;
    }
    if (Atomics.load(progress, P_ABORT) !== 0) cError ??= 'consumer: aborted by the watchdog';
  }
  Atomics.store(progress, P_RECEIVED, cExpected);
  Atomics.store(progress, P_SKIPS, cTracker.skips);
  // Nothing may follow the last frame.
  if (cError === null && !ring.isEmpty()) cError = `consumer: the ring holds more than ${job.frames} frames`;
  return {
    role: 'consumer', frames: cExpected, error: cError, elapsedMs: performance.now() - t0, parks: ring.dataParks, wakeups: ring.wakeups,
    timeouts: ring.dataTimeouts, fullEvents: 0, notifies: ring.spaceNotifies, skips: cTracker.skips,
  };
}

const job = workerData as ProducerJob | ConsumerJob | null;
if (!isMainThread && parentPort !== null && job !== null && job.kind === 'stress') {
  parentPort.postMessage(job.role === 'producer' ? produce(job) : consume(job));
}
