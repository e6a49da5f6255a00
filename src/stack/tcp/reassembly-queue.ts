// Out-of-order TCP data held until the gap before it fills (RFC 9293 §3.10.7.4, "segment
// text"; Linux's ofo queue), and the SACK blocks that describe it (RFC 2018 §4).
//
// Blocks are disjoint, never adjacent (touching blocks are merged), and kept sorted by
// sequence number in a plain array of pooled, fixed-shape objects. All blocks lie within
// one receive window (< 2^31) of each other, so modular comparisons order them. Bytes
// already held are never overwritten by a later copy: as in Linux, the first copy wins.
// Each block owns a byte store that grows by doubling and is kept when the block returns
// to the pool, so a steady stream of reordering allocates nothing.

import type { ByteRing } from './byte-ring.js';

const lt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
const EMPTY = new Uint8Array(0);

class Block {
  /** First sequence number held (unsigned). */
  seq = 0;
  /** Bytes held. */
  len = 0;
  /** Where the bytes start in `buf` (lets pull() trim the front without moving data). */
  off = 0;
  buf: Uint8Array = EMPTY;
  /** Arrival order of the newest segment that landed in this block (RFC 2018 §4 order). */
  stamp = 0;
}

function copyBytes(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, n: number): void {
  if (n > 64) dst.set(src.subarray(srcAt, srcAt + n), dstAt);
  else for (let i = 0; i < n; i++) dst[dstAt + i] = src[srcAt + i]!;
}

/** Shared by every queue that never held anything (never written: the first insert replaces it). */
const NO_BLOCKS: Block[] = [];

export class ReassemblyQueue {
  private blocks: Block[] = NO_BLOCKS;
  private count = 0;
  private pool: Block[] = NO_BLOCKS;
  private held = 0;
  private clock = 0;

  constructor(private maxBytes: number) {}

  /** Bytes held. */
  get bytes(): number {
    return this.held;
  }
  get blockCount(): number {
    return this.count;
  }
  /** Right edge of the highest block (unsigned), or -1 when empty. */
  get highestEnd(): number {
    if (this.count === 0) return -1;
    const b = this.blocks[this.count - 1]!;
    return (b.seq + b.len) >>> 0;
  }

  setMaxBytes(n: number): void {
    this.maxBytes = n;
  }

  /** Drops everything (and the pooled stores, to keep an idle connection small). */
  clear(): void {
    this.count = 0;
    this.held = 0;
    this.pool.length = 0;
    this.blocks.length = 0;
  }

  /**
   * Stores a copy of data[off, off+len) at `seq`, filling only the gaps between what is
   * already held; returns the bytes newly stored. Refuses (returns 0, stores nothing)
   * when that would take more than maxBytes — Linux likewise drops an ofo segment it
   * cannot charge to the receive buffer. The caller trims data before rcvNxt.
   */
  insert(seq: number, data: Uint8Array, off: number, len: number): number {
    if (len <= 0) return 0;
    if (this.blocks === NO_BLOCKS) {
      // An in-order connection never gets here: its queue costs no arrays.
      this.blocks = [];
      this.pool = [];
    }
    seq >>>= 0;
    const end = (seq + len) >>> 0;
    const blocks = this.blocks;
    const count = this.count;
    // i: the first block not wholly before seq (end >= seq: touching counts, to merge).
    let i = 0;
    while (i < count) {
      const b = blocks[i]!;
      if (!lt((b.seq + b.len) | 0, seq)) break;
      i++;
    }
    // j: the last block starting at or before end (touching counts).
    let j = i - 1;
    while (j + 1 < count && !lt(end, blocks[j + 1]!.seq)) j++;

    // Bytes the gaps would take.
    let fresh = 0;
    if (j < i) fresh = len;
    else {
      let cur = seq;
      for (let k = i; k <= j; k++) {
        const b = blocks[k]!;
        if (lt(cur, b.seq)) fresh += (b.seq - cur) | 0;
        const bEnd = (b.seq + b.len) | 0;
        if (lt(cur, bEnd)) cur = bEnd;
      }
      if (lt(cur, end)) fresh += (end - cur) | 0;
    }
    if (fresh > 0 && this.held + fresh > this.maxBytes) return 0;
    const stamp = ++this.clock;

    if (j < i) {
      // No block touches it: a new block at index i.
      const nb = this.take();
      if (nb.buf.length < len) nb.buf = new Uint8Array(storeSize(len));
      nb.seq = seq;
      nb.len = len;
      nb.off = 0;
      nb.stamp = stamp;
      copyBytes(nb.buf, 0, data, off, len);
      for (let k = count; k > i; k--) blocks[k] = blocks[k - 1]!;
      blocks[i] = nb;
      this.count = count + 1;
      this.held += len;
      return len;
    }

    const first = blocks[i]!;
    const last = blocks[j]!;
    first.stamp = stamp;
    if (fresh === 0) return 0; // a duplicate inside one block: it still is the most recent (RFC 2018 §4)
    const start = lt(seq, first.seq) ? seq : first.seq;
    const lastEnd = (last.seq + last.len) >>> 0;
    const stop = lt(lastEnd, end) ? end : lastEnd;
    const span = (stop - start) >>> 0;
    // Put first's bytes at their final place (offset first.seq - start) in a store of `span`.
    const lead = (first.seq - start) >>> 0;
    if (first.off >= lead && first.off - lead + span <= first.buf.length) {
      first.off -= lead;
    } else if (span <= first.buf.length) {
      first.buf.copyWithin(lead, first.off, first.off + first.len);
      first.off = 0;
    } else {
      const nbuf = new Uint8Array(storeSize(span));
      copyBytes(nbuf, lead, first.buf, first.off, first.len);
      first.buf = nbuf;
      first.off = 0;
    }
    const buf = first.buf;
    const base = first.off;
    // Older blocks i+1..j keep their bytes; new data fills the gaps around them.
    let curEnd = (first.seq + first.len) | 0;
    if (lt(seq, first.seq)) copyBytes(buf, base, data, off, lead);
    for (let k = i + 1; k <= j; k++) {
      const b = blocks[k]!;
      const gap = (b.seq - curEnd) | 0; // > 0: blocks never touch
      copyBytes(buf, base + ((curEnd - start) >>> 0), data, off + ((curEnd - seq) | 0), gap);
      copyBytes(buf, base + ((b.seq - start) >>> 0), b.buf, b.off, b.len);
      curEnd = (b.seq + b.len) | 0;
      this.recycle(b);
    }
    if (lt(curEnd, end)) copyBytes(buf, base + ((curEnd - start) >>> 0), data, off + ((curEnd - seq) | 0), (end - curEnd) | 0);
    first.seq = start;
    first.len = span;
    // Close the hole left by blocks i+1..j.
    const removed = j - i;
    if (removed > 0) {
      for (let k = i + 1; k + removed < count; k++) blocks[k] = blocks[k + removed]!;
      this.count = count - removed;
    }
    this.held += fresh;
    return fresh;
  }

  /**
   * Moves every byte now in order at rcvNxt into `out` (as far as it has room); returns
   * how many. Blocks wholly before rcvNxt are dropped, a block straddling it is trimmed.
   */
  pull(rcvNxt: number, out: ByteRing): number {
    let moved = 0;
    let next = rcvNxt | 0;
    const blocks = this.blocks;
    let drop = 0;
    while (drop < this.count) {
      const b = blocks[drop]!;
      if (lt(next, b.seq)) break;
      const skip = (next - b.seq) | 0;
      if (skip >= b.len) {
        this.held -= b.len;
        drop++;
        continue;
      }
      const want = b.len - skip;
      const n = out.write(b.buf, b.off + skip, want);
      moved += n;
      next = (next + n) | 0;
      if (n < want) {
        // The receive buffer is full: keep the rest.
        this.held -= skip + n;
        b.off += skip + n;
        b.len -= skip + n;
        b.seq = next >>> 0;
        break;
      }
      this.held -= b.len;
      drop++;
    }
    if (drop > 0) {
      for (let k = 0; k < drop; k++) this.recycle(blocks[k]!);
      for (let k = drop; k < this.count; k++) blocks[k - drop] = blocks[k]!;
      this.count -= drop;
    }
    return moved;
  }

  /**
   * RFC 2018 §4: writes up to `max` blocks as (left edge, right edge) pairs into
   * out[0..2n) — the block holding the most recently received segment first, then the
   * others most recently changed first — and returns n. Callers pass max = 3 with
   * timestamps, 4 without (40 bytes of options).
   */
  sackBlocks(out: Uint32Array | number[], max: number): number {
    const blocks = this.blocks;
    let n = 0;
    let below = Infinity;
    while (n < max) {
      let best = -1;
      let bestStamp = -1;
      for (let k = 0; k < this.count; k++) {
        const s = blocks[k]!.stamp;
        if (s < below && s > bestStamp) {
          bestStamp = s;
          best = k;
        }
      }
      if (best < 0) break;
      const b = blocks[best]!;
      out[2 * n] = b.seq >>> 0;
      out[2 * n + 1] = (b.seq + b.len) >>> 0;
      below = bestStamp;
      n++;
    }
    return n;
  }

  private take(): Block {
    return this.pool.pop() ?? new Block();
  }

  private recycle(b: Block): void {
    b.len = 0;
    b.off = 0;
    b.stamp = 0;
    this.pool.push(b);
  }
}

/** Stores are powers of two from 2 KiB, so a merged block rarely needs a new one. */
function storeSize(n: number): number {
  let s = 2048;
  while (s < n) s *= 2;
  return s;
}
