// A growable circular byte buffer for TCP's send and receive queues. The backing store is
// taken lazily on the first write and given back by release() when empty, so an idle
// connection holds no buffer; it doubles up to maxCapacity (Linux's sk_sndbuf/sk_rcvbuf
// play that role). Growing allocates once per doubling; steady-state writes, peeks and
// reads allocate nothing except a subarray view for copies longer than SHORT_COPY bytes
// (a view is one small object; a plain loop is faster than set() for short runs anyway).

import { BufferPool } from '../buffer-pool.js';

const SHORT_COPY = 64;
/** The first backing store when no initial capacity is given. */
const MIN_ALLOC = 2048;
const EMPTY = new Uint8Array(0);

function copyBytes(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, n: number): void {
  if (n > SHORT_COPY) dst.set(src.subarray(srcAt, srcAt + n), dstAt);
  else for (let i = 0; i < n; i++) dst[dstAt + i] = src[srcAt + i]!;
}

export class ByteRing {
  private buf: Uint8Array = EMPTY;
  private head = 0;
  private len = 0;
  private readonly initialCapacity: number;
  private maxCap: number;

  /** Nothing is allocated here: the first write takes max(initialCapacity, what it needs), from `pool` when given. */
  constructor(initialCapacity = 0, maxCapacity = 4 << 20, private readonly pool: BufferPool | null = null) {
    this.maxCap = Math.max(0, Math.floor(maxCapacity));
    this.initialCapacity = Math.min(Math.max(0, Math.floor(initialCapacity)), this.maxCap);
  }

  /** Bytes held. */
  get length(): number {
    return this.len;
  }
  /** Size of the backing store now (0 while idle). */
  get capacity(): number {
    return this.buf.length;
  }
  /** Bytes that may still be written: maxCapacity − length (never negative). */
  get free(): number {
    return this.maxCap > this.len ? this.maxCap - this.len : 0;
  }
  get maxCapacity(): number {
    return this.maxCap;
  }
  /** Alias of maxCapacity. */
  get max(): number {
    return this.maxCap;
  }

  /**
   * Changes the limit (SO_SNDBUF/SO_RCVBUF). Bytes already held are kept even above a
   * smaller limit (free is then 0 until they drain); the store never shrinks while in use.
   */
  setMaxCapacity(n: number): void {
    this.maxCap = Math.max(0, Math.floor(n));
  }

  /** Appends up to `free` bytes of src[srcOff, srcOff+len); returns how many were written. */
  write(src: Uint8Array, srcOff = 0, len = src.length - srcOff): number {
    const n = Math.min(len, this.free);
    if (n <= 0) return 0;
    if (this.len + n > this.buf.length) this.grow(this.len + n);
    const buf = this.buf;
    const cap = buf.length;
    let tail = this.head + this.len;
    if (tail >= cap) tail -= cap;
    const first = Math.min(n, cap - tail);
    copyBytes(buf, tail, src, srcOff, first);
    if (first < n) copyBytes(buf, 0, src, srcOff + first, n - first);
    this.len += n;
    return n;
  }

  /**
   * Copies up to `len` bytes starting `offset` bytes past the head into dst[dstOff, …)
   * without consuming them (the send queue builds (re)transmissions this way); returns
   * how many were copied (0 when offset >= length).
   */
  peek(dst: Uint8Array, dstOff: number, offset: number, len: number): number {
    if (offset < 0) offset = 0;
    const n = Math.min(len, this.len - offset);
    if (n <= 0) return 0;
    const buf = this.buf;
    const cap = buf.length;
    let start = this.head + offset;
    if (start >= cap) start -= cap;
    const first = Math.min(n, cap - start);
    copyBytes(dst, dstOff, buf, start, first);
    if (first < n) copyBytes(dst, dstOff + first, buf, 0, n - first);
    return n;
  }

  /** Reads (copies and consumes) up to `len` bytes; returns how many. */
  read(dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): number {
    const n = this.peek(dst, dstOff, 0, len);
    this.consume(n);
    return n;
  }

  /** Drops up to n bytes from the head (acknowledged data, or data the reader took). */
  consume(n: number): void {
    const k = n < this.len ? (n > 0 ? n : 0) : this.len;
    this.len -= k;
    if (this.len === 0) {
      this.head = 0; // keeps the next writes contiguous
      return;
    }
    this.head += k;
    if (this.head >= this.buf.length) this.head -= this.buf.length;
  }

  /** Empties the ring, keeping the backing store. */
  clear(): void {
    this.len = 0;
    this.head = 0;
  }

  /** Gives the backing store back when empty (an idle connection then holds no buffer). */
  release(): void {
    if (this.len === 0) {
      if (this.pool !== null) this.pool.give(this.buf);
      this.buf = EMPTY;
      this.head = 0;
    }
  }

  private grow(need: number): void {
    let cap =
      this.buf.length > 0 ? this.buf.length : this.initialCapacity > 0 ? this.initialCapacity : Math.min(MIN_ALLOC, this.maxCap);
    if (cap === 0) cap = 1;
    while (cap < need) cap *= 2;
    // Never above the limit, but never below what is held plus what is being written.
    cap = Math.max(need, Math.min(cap, this.maxCap));
    const next = this.pool !== null ? this.pool.take(cap) : new Uint8Array(cap);
    this.peek(next, 0, 0, this.len);
    if (this.pool !== null) this.pool.give(this.buf);
    this.buf = next;
    this.head = 0;
  }
}
