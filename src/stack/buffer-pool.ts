// Free backing stores for connection buffers, by power-of-two size. A connection gives its
// send or receive store back when it empties and takes one again on its next write, so an
// idle connection holds no buffer while a busy one allocates nothing in steady state (the
// pool plays the part of Linux's page allocator for skb data). Bounded: stores beyond the
// limit are left to the garbage collector.

const MIN_SHIFT = 11; // 2 KiB
const MAX_SHIFT = 26; // 64 MiB

export class BufferPool {
  private readonly free: Uint8Array[][] = [];
  private held = 0;
  /** Stores handed out from the pool, and new ones made because it was empty. */
  reused = 0;
  allocated = 0;

  constructor(readonly maxBytes = 64 << 20) {
    for (let s = 0; s <= MAX_SHIFT; s++) this.free.push([]);
  }

  /** Bytes held for reuse. */
  get bytes(): number {
    return this.held;
  }

  /** The size a request of n bytes is served with. */
  static sizeFor(n: number): number {
    let s = MIN_SHIFT;
    while (s < MAX_SHIFT && 1 << s < n) s++;
    return Math.max(1 << s, n);
  }

  /** A store of at least n bytes (BufferPool.sizeFor(n) exactly when pooled). */
  take(n: number): Uint8Array {
    const size = BufferPool.sizeFor(n);
    const shift = 31 - Math.clz32(size);
    if (1 << shift === size && shift <= MAX_SHIFT) {
      const list = this.free[shift]!;
      if (list.length > 0) {
        this.held -= size;
        this.reused++;
        return list.pop()!;
      }
    }
    this.allocated++;
    return new Uint8Array(size);
  }

  /** Gives a store back (its contents are garbage from now on). */
  give(b: Uint8Array): void {
    const size = b.length;
    if (size === 0 || this.held + size > this.maxBytes) return;
    const shift = 31 - Math.clz32(size);
    if (1 << shift !== size || shift < MIN_SHIFT || shift > MAX_SHIFT) return;
    this.free[shift]!.push(b);
    this.held += size;
  }
}
