// A growable circular byte buffer for TCP's send and receive queues. The backing store is
// taken lazily and given back when empty (release()), so an idle connection holds no
// buffer; it doubles up to a maximum. Copies avoid subarray views for short runs (a view
// is an allocation).

function copy(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, n: number): void {
  if (n > 64) dst.set(src.subarray(srcAt, srcAt + n), dstAt);
  else for (let i = 0; i < n; i++) dst[dstAt + i] = src[srcAt + i]!;
}

const EMPTY = new Uint8Array(0);

export class ByteRing {
  private buf: Uint8Array = EMPTY;
  private head = 0;
  private len = 0;

  constructor(
    initialCapacity = 0,
    private maxCapacity = 4 << 20,
  ) {
    if (initialCapacity > 0) this.buf = new Uint8Array(Math.min(initialCapacity, maxCapacity));
  }

  get length(): number {
    return this.len;
  }
  get capacity(): number {
    return this.buf.length;
  }
  /** Bytes that may still be written (up to the maximum capacity). */
  get free(): number {
    return this.maxCapacity - this.len;
  }
  get max(): number {
    return this.maxCapacity;
  }

  setMaxCapacity(n: number): void {
    this.maxCapacity = Math.max(n, this.len);
  }

  /** Appends up to `free` bytes; returns how many. */
  write(src: Uint8Array, srcOff = 0, len = src.length - srcOff): number {
    const n = Math.min(len, this.free);
    if (n <= 0) return 0;
    if (this.len + n > this.buf.length) this.grow(this.len + n);
    const cap = this.buf.length;
    let tail = this.head + this.len;
    if (tail >= cap) tail -= cap;
    const first = Math.min(n, cap - tail);
    copy(this.buf, tail, src, srcOff, first);
    if (first < n) copy(this.buf, 0, src, srcOff + first, n - first);
    this.len += n;
    return n;
  }

  /** Copies `len` bytes starting `offset` past the head, without consuming them. */
  peek(dst: Uint8Array, dstOff: number, offset: number, len: number): number {
    const n = Math.max(0, Math.min(len, this.len - offset));
    if (n === 0) return 0;
    const cap = this.buf.length;
    let start = this.head + offset;
    if (start >= cap) start -= cap;
    const first = Math.min(n, cap - start);
    copy(dst, dstOff, this.buf, start, first);
    if (first < n) copy(dst, dstOff + first, this.buf, 0, n - first);
    return n;
  }

  read(dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): number {
    const n = this.peek(dst, dstOff, 0, len);
    this.consume(n);
    return n;
  }

  consume(n: number): void {
    const k = Math.min(n, this.len);
    this.len -= k;
    this.head += k;
    if (this.head >= this.buf.length) this.head -= this.buf.length;
    if (this.len === 0) this.head = 0;
  }

  /** Gives the backing store back when empty. */
  release(): void {
    if (this.len === 0) {
      this.buf = EMPTY;
      this.head = 0;
    }
  }

  private grow(need: number): void {
    let cap = Math.max(this.buf.length, 2048);
    while (cap < need) cap *= 2;
    cap = Math.min(cap, Math.max(this.maxCapacity, need));
    const next = new Uint8Array(cap);
    this.peek(next, 0, 0, this.len);
    this.buf = next;
    this.head = 0;
  }
}
