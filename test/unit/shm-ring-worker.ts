// Worker side of shm-ring.test.ts. The role comes in workerData; the result goes back
// with postMessage. Frames carry their sequence number and a checksum:
//   [seq u32 LE][payload derived from seq][FNV-1a of everything before, u32 LE]
// and their length is a function of seq, so the consumer can check all of it.

import { parentPort, workerData } from 'node:worker_threads';
import { ShmRing } from '../../src/link/shm-ring.js';
import { ShmLink, type ShmLinkShared } from '../../src/link/shm-link.js';

export interface FrameSpec {
  minLen: number; // >= 8
  maxLen: number;
}

export function frameLength(seq: number, spec: FrameSpec): number {
  const h = Math.imul(seq ^ (seq >>> 16), 0x45d9f3b) >>> 0;
  return spec.minLen + (h % (spec.maxLen - spec.minLen + 1));
}

/** Writes frame `seq` of `len` bytes at `bytes[at..]`. */
export function writeFrame(bytes: Uint8Array, at: number, len: number, seq: number): void {
  bytes[at] = seq & 0xff;
  bytes[at + 1] = (seq >>> 8) & 0xff;
  bytes[at + 2] = (seq >>> 16) & 0xff;
  bytes[at + 3] = (seq >>> 24) & 0xff;
  let x = seq | 1;
  const end = at + len - 4;
  for (let i = at + 4; i < end; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  const c = fnv1a(bytes, at, len - 4);
  bytes[end] = c & 0xff;
  bytes[end + 1] = (c >>> 8) & 0xff;
  bytes[end + 2] = (c >>> 16) & 0xff;
  bytes[end + 3] = (c >>> 24) & 0xff;
}

export function fnv1a(bytes: Uint8Array, at: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = at, end = at + len; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

export function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Checks one received frame against what sequence `expected` must look like; null when good. */
export function checkFrame(bytes: Uint8Array, at: number, len: number, expected: number, spec: FrameSpec): string | null {
  if (len < 8) return `frame ${expected}: runt of ${len} bytes`;
  const seq = readU32(bytes, at);
  if (seq !== expected) return `expected frame ${expected}, got ${seq} (${seq < expected ? 'duplicate or reordered' : 'frames lost'})`;
  const want = frameLength(seq, spec);
  if (len !== want) return `frame ${seq}: length ${len}, expected ${want}`;
  if (fnv1a(bytes, at, len - 4) !== readU32(bytes, at + len - 4)) return `frame ${seq}: checksum mismatch (corrupted)`;
  return null;
}

/** A small seeded PRNG (xorshift32) for burst sizes and pauses. */
export class XorShift {
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
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

export type WorkerJob =
  | { role: 'producer'; sab: SharedArrayBuffer; offset: number; frames: number; batch: number; spec: FrameSpec; spaceTimeoutMs: number }
  | { role: 'burst-producer'; sab: SharedArrayBuffer; offset: number; frames: number; seed: number; maxBurst: number; maxPauseMs: number; spec: FrameSpec; spaceTimeoutMs: number; drainTimeoutMs: number }
  | { role: 'consumer'; sab: SharedArrayBuffer; offset: number; frames: number; max: number; spin: number; parkTimeoutMs: number; spec: FrameSpec }
  | { role: 'echo'; shared: ShmLinkShared; frames: number; parkTimeoutMs: number };

export interface WorkerResult {
  role: string;
  frames: number;
  error: string | null;
  elapsedMs: number;
  parks: number;
  wakeups: number;
  timeouts: number;
  fullEvents: number;
  notifies: number;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleep(ms: number): void {
  if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
}

function produce(job: Extract<WorkerJob, { role: 'producer' }>): WorkerResult {
  const ring = ShmRing.attach(job.sab, job.offset);
  const scratch = new Uint8Array(job.spec.maxLen);
  const t0 = performance.now();
  let error: string | null = null;
  let inBatch = 0;
  for (let seq = 0; seq < job.frames; seq++) {
    const len = frameLength(seq, job.spec);
    for (;;) {
      // Even frames are written in place (reserve), odd ones copied in (stage).
      if ((seq & 1) === 0) {
        const at = ring.reserve(len);
        if (at >= 0) {
          writeFrame(ring.bytes, at, len, seq);
          break;
        }
      } else {
        writeFrame(scratch, 0, len, seq);
        if (ring.stage(scratch, 0, len)) break;
      }
      inBatch = 0;
      if (!ring.waitForSpace(len, job.spaceTimeoutMs)) {
        error = `producer: no space for frame ${seq} after ${job.spaceTimeoutMs} ms (lost wake-up or stuck consumer)`;
        break;
      }
    }
    if (error !== null) break;
    if (++inBatch === job.batch) {
      ring.publish();
      inBatch = 0;
    }
  }
  ring.publish();
  return {
    role: job.role, frames: ring.pushedFrames, error, elapsedMs: performance.now() - t0,
    parks: ring.spaceParks, wakeups: 0, timeouts: ring.spaceTimeouts, fullEvents: ring.fullEvents, notifies: ring.dataNotifies,
  };
}

function produceBursts(job: Extract<WorkerJob, { role: 'burst-producer' }>): WorkerResult {
  const ring = ShmRing.attach(job.sab, job.offset);
  const rng = new XorShift(job.seed);
  const scratch = new Uint8Array(job.spec.maxLen);
  const t0 = performance.now();
  let error: string | null = null;
  let seq = 0;
  while (seq < job.frames && error === null) {
    const burst = Math.min(job.frames - seq, rng.int(1, job.maxBurst));
    for (let k = 0; k < burst; k++, seq++) {
      const len = frameLength(seq, job.spec);
      writeFrame(scratch, 0, len, seq);
      while (!ring.stage(scratch, 0, len)) {
        if (!ring.waitForSpace(len, job.spaceTimeoutMs)) {
          error = `burst producer: no space for frame ${seq} after ${job.spaceTimeoutMs} ms (lost wake-up or stuck consumer)`;
          break;
        }
      }
      if (error !== null) break;
    }
    ring.publish();
    // A parked consumer must wake for every burst: it has until drainTimeoutMs to empty the ring.
    const until = performance.now() + job.drainTimeoutMs;
    while (error === null && !ring.isEmpty()) {
      if (performance.now() > until) error = `burst producer: frames up to ${seq} not drained within ${job.drainTimeoutMs} ms (lost wake-up)`;
    }
    // Some bursts follow at once, to race the consumer while it is parking.
    const r = rng.next();
    sleep(r < 0.3 ? 0 : Math.ceil(r * job.maxPauseMs));
  }
  return {
    role: job.role, frames: ring.pushedFrames, error, elapsedMs: performance.now() - t0,
    parks: ring.spaceParks, wakeups: 0, timeouts: ring.spaceTimeouts, fullEvents: ring.fullEvents, notifies: ring.dataNotifies,
  };
}

// Consumer state lives at module level so the handler is one function, not a closure per batch.
let cExpected = 0;
let cError: string | null = null;
let cSpec: FrameSpec = { minLen: 8, maxLen: 8 };
function onFrame(bytes: Uint8Array, at: number, len: number): void {
  if (cError === null) cError = checkFrame(bytes, at, len, cExpected, cSpec);
  cExpected++;
}

function consume(job: Extract<WorkerJob, { role: 'consumer' }>): WorkerResult {
  const ring = ShmRing.attach(job.sab, job.offset);
  cExpected = 0;
  cError = null;
  cSpec = job.spec;
  let t0 = -1;
  let idle = 0;
  while (cExpected < job.frames && cError === null) {
    const n = ring.drain(onFrame, job.max);
    if (n > 0) {
      if (t0 < 0) t0 = performance.now();
      idle = 0;
      continue;
    }
    if (++idle <= job.spin) continue;
    if (!ring.waitForData(job.parkTimeoutMs)) {
      cError = `consumer: no frame for ${job.parkTimeoutMs} ms after ${cExpected} of ${job.frames} (lost wake-up or stuck producer)`;
    }
  }
  return {
    role: job.role, frames: cExpected, error: cError, elapsedMs: t0 < 0 ? 0 : performance.now() - t0,
    parks: ring.dataParks, wakeups: ring.wakeups, timeouts: ring.dataTimeouts, fullEvents: 0, notifies: ring.spaceNotifies,
  };
}

// Echo: everything received on side 'b' goes straight back.
let echoLink: ShmLink | null = null;
let echoView: Uint8Array | null = null;
function onEcho(bytes: Uint8Array, at: number, len: number): void {
  // A view per frame is fine in a test; the link copies it into the other ring.
  echoView = bytes.subarray(at, at + len);
  echoLink!.transmit(echoView);
}

function echo(job: Extract<WorkerJob, { role: 'echo' }>): WorkerResult {
  const link = new ShmLink(job.shared, 'b');
  echoLink = link;
  const t0 = performance.now();
  let error: string | null = null;
  while (link.rxFrames < job.frames) {
    link.cork();
    const n = link.receive(onEcho, 64);
    link.uncork();
    if (n === 0 && !link.waitForData(job.parkTimeoutMs)) {
      error = `echo: no frame for ${job.parkTimeoutMs} ms after ${link.rxFrames} of ${job.frames}`;
      break;
    }
  }
  return {
    role: job.role, frames: link.rxFrames, error: error ?? (link.txDrops > 0 ? `echo: ${link.txDrops} frames dropped on transmit` : null),
    elapsedMs: performance.now() - t0, parks: link.rx.dataParks, wakeups: link.rx.wakeups, timeouts: link.rx.dataTimeouts,
    fullEvents: link.tx.fullEvents, notifies: link.tx.dataNotifies,
  };
}

if (parentPort !== null && workerData !== undefined && workerData !== null) {
  const job = workerData as WorkerJob;
  let result: WorkerResult;
  switch (job.role) {
    case 'producer': result = produce(job); break;
    case 'burst-producer': result = produceBursts(job); break;
    case 'consumer': result = consume(job); break;
    case 'echo': result = echo(job); break;
  }
  parentPort.postMessage(result);
}
