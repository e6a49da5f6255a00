// A single-producer/single-consumer ring of variable-length frames inside a
// SharedArrayBuffer, usable across worker_threads (each side attaches to the same SAB).
//
// Layout at `offset` (8-aligned): a 256-byte header of Int32 words, then `capacity`
// data bytes (a power of two). `head` (consumer) and `tail` (producer) are byte
// counters that run freely and wrap as Int32; the data index is `counter & (capacity-1)`,
// so `(tail - head) | 0` is the number of bytes in use. The producer's and the
// consumer's words sit on different 64-byte lines.
//
// A record is a 4-byte length then the payload, padded to 8. A record never wraps: when
// it does not fit before the end of the data area, the producer writes a skip marker
// (length -1) there and the record starts at index 0; the skip consumes the rest of the
// lap. A record takes at most capacity/2 bytes, so an empty ring always accepts the
// largest frame whatever the wasted tail of the lap.
//
// Doorbells (one per direction of waiting) avoid lost wake-ups with seq-cst Atomics:
//   waiter:   store parked=1; seq=load bell; re-check condition; if still unmet,
//             Atomics.wait(bell, seq, timeout) and repeat (a bell rung for an earlier
//             park can end this one early); store parked=0.
//   notifier: publish (Atomics.store of tail/head); if parked != 0, exchange it to 0
//             and, if it was still 1, add 1 to the bell and notify.
// If the notifier read parked=0, its publish came before the waiter's re-check, which
// then sees it; if it read 1, the bell changed after `seq` was read or the waiter is
// already asleep, so Atomics.wait returns or is woken. Clearing the flag lets one
// notifier ring per park (the waiter sets it again before each re-check); an active
// pair costs one Atomics.store and one load per batch.
//
// Any thread may end the consumer's wait without a frame (interruptWait(): a poll loop
// being stopped): it stores KICK=1, then adds 1 to the data bell and notifies. The waiter
// checks KICK after reading `seq`, so by the same argument either it sees the kick or its
// Atomics.wait finds the bell changed; a kick with no wait in progress ends the next one.
//
// Atomics.notify only reaches waiters in the same process (V8 keeps waiters per
// process). A ring in memory shared between processes is attached with a ShmFutex (the
// native addon's shared futex, see DESIGN.md): the protocol is the same, but a notifier
// also calls futexWake on the bell after Atomics.add/notify, and a waiter sleeps in
// futexWait (futexWaitAsync on the main thread) instead of Atomics.wait(Async). FUTEX_WAIT
// compares the bell with `seq` and queues the waiter atomically (futex(2)), so the
// argument above holds across processes. Only the parked branch changes: a ring without a
// ShmFutex runs exactly the pure-JS path.

import { Doorbell, FUTEX_WAKE_ALL, type ShmFutex } from './doorbell.js';

/** Int32 word indices of the header, for tools and tests that inspect a ring. */
export const ShmRingLayout = Object.freeze({
  HEADER_BYTES: 256,
  MAGIC: 0,
  CAPACITY: 1,
  // The producer's line (the consumer only clears SPACE_PARKED).
  TAIL: 16,
  DATA_BELL: 17,
  SPACE_PARKED: 18,
  // The consumer's line (the producer only clears DATA_PARKED).
  HEAD: 32,
  SPACE_BELL: 33,
  DATA_PARKED: 34,
  /** Set by interruptWait() (any thread), cleared by the consumer's wait it ends. */
  DATA_KICK: 35,
});

const MAGIC_VALUE = 0x53524e47; // "SRNG"
const HEADER_BYTES = ShmRingLayout.HEADER_BYTES;
const W_MAGIC = ShmRingLayout.MAGIC;
const W_CAPACITY = ShmRingLayout.CAPACITY;
const W_TAIL = ShmRingLayout.TAIL;
const W_DATA_BELL = ShmRingLayout.DATA_BELL;
const W_SPACE_PARKED = ShmRingLayout.SPACE_PARKED;
const W_HEAD = ShmRingLayout.HEAD;
const W_SPACE_BELL = ShmRingLayout.SPACE_BELL;
const W_DATA_PARKED = ShmRingLayout.DATA_PARKED;
const W_DATA_KICK = ShmRingLayout.DATA_KICK;
const SKIP = -1;
const MIN_CAPACITY = 64;
const MAX_CAPACITY = 1 << 30;
/** Copies longer than this use set() on a subarray view; shorter ones a plain loop. */
const SHORT_COPY = 64;

/** Receives one frame: `bytes[at .. at+len)`. The view is only valid until drain() returns. */
export type ShmFrameHandler = (bytes: Uint8Array, at: number, len: number) => void;

/**
 * A doorbell that reaches waiters in other processes: FUTEX_WAIT/FUTEX_WAKE (without
 * FUTEX_PRIVATE_FLAG) on an Int32 of the SharedArrayBuffer, with Atomics.wait/notify's
 * argument conventions. The native addon (src/native/addon.ts) is one.
 */
export type { ShmFutex } from './doorbell.js';

function roundCapacity(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes <= 0) throw new RangeError(`ShmRing capacity must be positive, got ${bytes}`);
  let c = MIN_CAPACITY;
  while (c < bytes) c *= 2;
  if (c > MAX_CAPACITY) throw new RangeError(`ShmRing capacity ${bytes} exceeds ${MAX_CAPACITY}`);
  return c;
}

function recordBytes(len: number): number {
  return (len + 11) & ~7;
}

export class ShmRing {
  /** The whole SharedArrayBuffer as bytes; drain() hands out offsets into it. */
  readonly bytes: Uint8Array;
  readonly sab: SharedArrayBuffer;
  /** Byte offset of this ring's header in `sab`. */
  readonly offset: number;
  /** Data bytes (a power of two). */
  readonly capacity: number;
  /** The cross-process doorbell, or null: Atomics.wait/notify only (one process). */
  readonly futex: ShmFutex | null;
  /** Largest frame tryPush/stage accept. */
  readonly maxFrameLength: number;

  // Producer statistics.
  pushedFrames = 0;
  pushedBytes = 0;
  /** stage()/tryPush() calls refused for lack of space (back-pressure, nothing overwritten). */
  fullEvents = 0;
  /** Data doorbells rung (the consumer was parked). */
  dataNotifies = 0;
  spaceParks = 0;
  spaceTimeouts = 0;

  // Consumer statistics.
  drainedFrames = 0;
  drainedBytes = 0;
  /** The consumer's doorbell (waitForData, waitForDataAsync, interruptWait). */
  private readonly dataBell: Doorbell;
  /** Sleeps in waitForData/waitForDataAsync (a wait may sleep more than once). */
  get dataParks(): number {
    return this.dataBell.parks;
  }
  /** Waits that slept and ended with data rather than at the timeout. */
  get wakeups(): number {
    return this.dataBell.wakeups;
  }
  get dataTimeouts(): number {
    return this.dataBell.timeouts;
  }
  /** Waits ended by interruptWait() rather than by data or the timeout. */
  get dataInterrupts(): number {
    return this.dataBell.interrupts;
  }
  /** Space doorbells rung (the producer was parked). */
  spaceNotifies = 0;

  private readonly i32: Int32Array;
  private readonly lens: Int32Array; // the whole buffer as Int32, for record lengths
  private readonly base: number; // byte offset of data index 0 in `bytes`
  private readonly mask: number;
  // Producer state: the unpublished tail and the last head seen.
  private pendingTail: number;
  private headSeen: number;
  // Consumer state: its own head.
  private head: number;

  /** Allocates a SharedArrayBuffer holding one ring of at least `capacityBytes` (rounded up to a power of two). */
  static create(capacityBytes: number): ShmRing {
    const cap = roundCapacity(capacityBytes);
    const sab = new SharedArrayBuffer(HEADER_BYTES + cap);
    ShmRing.format(sab, 0, cap);
    return new ShmRing(sab, 0);
  }

  /** Bytes a ring of `capacityBytes` occupies in a SharedArrayBuffer (header included). */
  static bytesFor(capacityBytes: number): number {
    return HEADER_BYTES + roundCapacity(capacityBytes);
  }

  /** Writes an empty ring's header at `offset`; returns the (rounded) capacity. Call before any side attaches. */
  static format(sab: SharedArrayBuffer, offset: number, capacityBytes: number): number {
    const cap = roundCapacity(capacityBytes);
    if (offset % 8 !== 0 || offset < 0 || offset + HEADER_BYTES + cap > sab.byteLength) {
      throw new RangeError(`ShmRing of ${cap} bytes does not fit at offset ${offset} of ${sab.byteLength}`);
    }
    const h = new Int32Array(sab, offset, HEADER_BYTES >> 2);
    h.fill(0);
    h[W_CAPACITY] = cap;
    Atomics.store(h, W_MAGIC, MAGIC_VALUE);
    return cap;
  }

  /**
   * Attaches to a ring formatted at `offset` of `sab` (by create() or format(), maybe in
   * another thread). With `futex`, its doorbells also reach other processes that mapped
   * the same memory; every side of such a ring must attach with one.
   */
  static attach(sab: SharedArrayBuffer, offset = 0, futex: ShmFutex | null = null): ShmRing {
    return new ShmRing(sab, offset, futex);
  }

  private constructor(sab: SharedArrayBuffer, offset: number, futex: ShmFutex | null = null) {
    if (offset % 8 !== 0 || offset < 0 || offset + HEADER_BYTES > sab.byteLength) {
      throw new RangeError(`no ShmRing header fits at offset ${offset}`);
    }
    this.sab = sab;
    this.offset = offset;
    this.futex = futex;
    this.bytes = new Uint8Array(sab);
    this.i32 = new Int32Array(sab, offset, HEADER_BYTES >> 2);
    if (Atomics.load(this.i32, W_MAGIC) !== MAGIC_VALUE) throw new Error(`no ShmRing at offset ${offset}`);
    const cap = this.i32[W_CAPACITY]!;
    if (offset + HEADER_BYTES + cap > sab.byteLength) throw new RangeError('ShmRing header claims more bytes than the buffer has');
    this.capacity = cap;
    this.mask = cap - 1;
    this.maxFrameLength = cap / 2 - 4;
    this.base = offset + HEADER_BYTES;
    // Int32 index of byte b is b >> 2 (base is 8-aligned).
    this.lens = new Int32Array(sab, 0, sab.byteLength >> 2);
    this.pendingTail = Atomics.load(this.i32, W_TAIL);
    this.headSeen = Atomics.load(this.i32, W_HEAD);
    this.head = this.headSeen;
    this.dataBell = new Doorbell(this.i32, W_DATA_PARKED, W_DATA_BELL, W_DATA_KICK, () => this.isEmpty(), futex);
  }

  // ---- producer ----

  /**
   * Reserves a record for `len` bytes and returns the offset in `bytes` where the caller
   * writes the payload, or -1 when the ring is full. Not visible until publish().
   */
  reserve(len: number): number {
    if (len < 0 || len > this.maxFrameLength) throw new RangeError(`frame of ${len} bytes exceeds ShmRing maximum ${this.maxFrameLength}`);
    const rec = recordBytes(len);
    const cap = this.capacity;
    let tail = this.pendingTail;
    let idx = tail & this.mask;
    const contiguous = cap - idx;
    const need = rec <= contiguous ? rec : contiguous + rec;
    if (need > cap - ((tail - this.headSeen) | 0)) {
      this.headSeen = Atomics.load(this.i32, W_HEAD);
      if (need > cap - ((tail - this.headSeen) | 0)) {
        this.fullEvents++;
        return -1;
      }
    }
    if (rec > contiguous) {
      this.lens[(this.base + idx) >> 2] = SKIP;
      tail = (tail + contiguous) | 0;
      idx = 0;
    }
    const at = this.base + idx;
    this.lens[at >> 2] = len;
    this.pendingTail = (tail + rec) | 0;
    this.pushedFrames++;
    this.pushedBytes += len;
    return at + 4;
  }

  /**
   * Copies `frame[off .. off+len)` into the ring without publishing it; false when full.
   * A whole array (off 0, len = frame.length) is copied without allocating; a part longer
   * than 64 bytes costs one subarray view. reserve() avoids the copy altogether.
   */
  stage(frame: Uint8Array, off: number, len: number): boolean {
    const at = this.reserve(len);
    if (at < 0) return false;
    const dst = this.bytes;
    if (off === 0 && len === frame.length) dst.set(frame, at);
    else if (len > SHORT_COPY) dst.set(frame.subarray(off, off + len), at);
    else for (let i = 0; i < len; i++) dst[at + i] = frame[off + i]!;
    return true;
  }

  /** Makes every staged frame visible: one Atomics.store, and a notify only if the consumer is parked. */
  publish(): void {
    const i32 = this.i32;
    Atomics.store(i32, W_TAIL, this.pendingTail);
    if (Atomics.load(i32, W_DATA_PARKED) !== 0 && Atomics.exchange(i32, W_DATA_PARKED, 0) !== 0) {
      Atomics.add(i32, W_DATA_BELL, 1);
      Atomics.notify(i32, W_DATA_BELL, 1);
      if (this.futex !== null) this.futex.futexWake(this.sab, this.offset + 4 * W_DATA_BELL, FUTEX_WAKE_ALL);
      this.dataNotifies++;
    }
  }

  /** stage() then publish(); false (nothing published) when full. */
  tryPush(frame: Uint8Array, off: number, len: number): boolean {
    if (!this.stage(frame, off, len)) return false;
    this.publish();
    return true;
  }

  /** Staged but unpublished bytes (records and padding). */
  get stagedBytes(): number {
    return (this.pendingTail - Atomics.load(this.i32, W_TAIL)) | 0;
  }

  /** True when a frame of `len` bytes would be accepted now. */
  hasSpaceFor(len: number): boolean {
    const rec = recordBytes(len);
    const contiguous = this.capacity - (this.pendingTail & this.mask);
    const need = rec <= contiguous ? rec : contiguous + rec;
    this.headSeen = Atomics.load(this.i32, W_HEAD);
    return need <= this.capacity - ((this.pendingTail - this.headSeen) | 0);
  }

  /**
   * Producer, in a worker: sleeps until a frame of `len` bytes fits or `timeoutMs` passes.
   * Publishes staged frames first (the consumer could not free space otherwise). Returns
   * false only on timeout.
   */
  waitForSpace(len: number, timeoutMs: number): boolean {
    if (this.stagedBytes !== 0) this.publish();
    if (this.hasSpaceFor(len)) return true;
    const i32 = this.i32;
    const deadline = performance.now() + timeoutMs;
    let fits = true;
    for (;;) {
      Atomics.store(i32, W_SPACE_PARKED, 1);
      const seq = Atomics.load(i32, W_SPACE_BELL);
      if (this.hasSpaceFor(len)) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        fits = false;
        this.spaceTimeouts++;
        break;
      }
      this.spaceParks++;
      // A bell rung for an earlier park can wake this one early: loop and re-check.
      if (this.futex !== null) this.futex.futexWait(this.sab, this.offset + 4 * W_SPACE_BELL, seq, left);
      else Atomics.wait(i32, W_SPACE_BELL, seq, left);
    }
    Atomics.store(i32, W_SPACE_PARKED, 0);
    return fits;
  }

  // ---- consumer ----

  /** True when no published frame is waiting. */
  isEmpty(): boolean {
    return Atomics.load(this.i32, W_TAIL) === Atomics.load(this.i32, W_HEAD);
  }

  /**
   * Hands up to `max` frames to `handler` as views into the ring (no copy), then frees
   * their space with one Atomics.store. Returns the number of frames. A handler that
   * throws loses its frame and stops the batch; frames before it stay consumed.
   */
  drain(handler: ShmFrameHandler, max: number): number {
    const tail = Atomics.load(this.i32, W_TAIL);
    let head = this.head;
    if (head === tail) return 0;
    const bytes = this.bytes;
    const lens = this.lens;
    const base = this.base;
    const mask = this.mask;
    const maxLen = this.maxFrameLength;
    let n = 0;
    let total = 0;
    try {
      while (n < max && head !== tail) {
        const idx = head & mask;
        const len = lens[(base + idx) >> 2]!;
        const next = len === SKIP ? (head + (this.capacity - idx)) | 0 : (head + recordBytes(len)) | 0;
        if ((len !== SKIP && (len >>> 0) > maxLen) || ((tail - next) | 0) < 0) this.corrupt(head, tail, len);
        head = next;
        if (len === SKIP) continue;
        n++;
        total += len;
        handler(bytes, base + idx + 4, len);
      }
    } finally {
      this.release(head, n, total);
    }
    return n;
  }

  /**
   * Copies the next frame into `dst` at `dstAt`; returns its length, or -1 when empty.
   * Throws if it does not fit (the frame stays). Frames over 64 bytes cost one subarray
   * view; drain() is the copy-free path.
   */
  popInto(dst: Uint8Array, dstAt = 0): number {
    const tail = Atomics.load(this.i32, W_TAIL);
    let head = this.head;
    if (head === tail) return -1;
    let idx = head & this.mask;
    let len = this.lens[(this.base + idx) >> 2]!;
    if (len === SKIP) {
      head = (head + (this.capacity - idx)) | 0;
      idx = 0;
      len = this.lens[this.base >> 2]!;
    }
    if ((len >>> 0) > this.maxFrameLength || ((tail - ((head + recordBytes(len)) | 0)) | 0) < 0) this.corrupt(head, tail, len);
    if (dstAt + len > dst.length) throw new RangeError(`frame of ${len} bytes does not fit in ${dst.length - dstAt}`);
    const at = this.base + idx + 4;
    const src = this.bytes;
    if (len > SHORT_COPY) dst.set(src.subarray(at, at + len), dstAt);
    else for (let i = 0; i < len; i++) dst[dstAt + i] = src[at + i]!;
    this.release((head + recordBytes(len)) | 0, 1, len);
    return len;
  }

  /** A length the producer cannot have written, or a record past the tail: fail loudly rather than loop over garbage. */
  private corrupt(head: number, tail: number, len: number): never {
    throw new Error(`ShmRing at offset ${this.offset} is corrupt: record length ${len} at head ${head}, tail ${tail}`);
  }

  private release(head: number, frames: number, total: number): void {
    if (head === this.head) return;
    this.head = head;
    this.drainedFrames += frames;
    this.drainedBytes += total;
    const i32 = this.i32;
    Atomics.store(i32, W_HEAD, head);
    if (Atomics.load(i32, W_SPACE_PARKED) !== 0 && Atomics.exchange(i32, W_SPACE_PARKED, 0) !== 0) {
      Atomics.add(i32, W_SPACE_BELL, 1);
      Atomics.notify(i32, W_SPACE_BELL, 1);
      if (this.futex !== null) this.futex.futexWake(this.sab, this.offset + 4 * W_SPACE_BELL, FUTEX_WAKE_ALL);
      this.spaceNotifies++;
    }
  }

  /**
   * Ends the consumer's waitForData/waitForDataAsync in progress (it returns false), or the
   * next one if none is. Callable from any thread that attached the ring, e.g. to stop a
   * poll loop parked in a worker.
   */
  interruptWait(): void {
    this.dataBell.interrupt();
  }

  /**
   * Consumer, in a worker (Atomics.wait blocks the thread): sleeps until a frame is
   * published or `timeoutMs` passes. Returns false on timeout or interruptWait().
   */
  waitForData(timeoutMs: number): boolean {
    return this.dataBell.wait(timeoutMs);
  }

  /**
   * Consumer, on the main thread: like waitForData but with Atomics.waitAsync (or
   * futexWaitAsync on a cross-process ring), so the event loop keeps running. At most one
   * wait may be outstanding.
   */
  waitForDataAsync(timeoutMs: number): Promise<boolean> {
    return this.dataBell.waitAsync(timeoutMs);
  }

}
