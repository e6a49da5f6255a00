// Out-of-order TCP data held until the gap before it fills (RFC 9293 §3.10.7.4, "segment
// text"; Linux's ofo queue), and the SACK blocks that describe it (RFC 2018 §4: the block
// holding the most recent segment first). Blocks are kept sorted and merged; bytes already
// held are never overwritten (the first copy wins, as in Linux).

import type { ByteRing } from './byte-ring.js';

class Block {
  constructor(
    public seq: number,
    public data: Uint8Array,
    /** When it last grew (for SACK order). */
    public touched: number,
  ) {}
  get end(): number {
    return (this.seq + this.data.length) | 0;
  }
}

const before = (a: number, b: number) => ((a - b) | 0) < 0;

export class ReassemblyQueue {
  private blocks: Block[] = [];
  private held = 0;
  private clock = 0;

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.held;
  }
  get blockCount(): number {
    return this.blocks.length;
  }

  clear(): void {
    this.blocks.length = 0;
    this.held = 0;
  }

  /** Stores data[off, off+len) at `seq`; returns the bytes newly held. */
  insert(seq: number, data: Uint8Array, off: number, len: number): number {
    seq |= 0;
    const start = seq, end = (seq + len) | 0, from = off;
    let added = 0;
    const stamp = ++this.clock;
    // Cut the new range around existing blocks, inserting the uncovered pieces.
    const pieces: Array<[number, number, number]> = [];
    let cur = start;
    for (const b of this.blocks) {
      if (!before(cur, end)) break;
      if (!before(cur, b.end)) continue; // ends at or before cur
      if (!before(b.seq, end)) break; // starts at or after the end
      if (before(cur, b.seq)) pieces.push([cur, from + ((cur - start) | 0), (b.seq - cur) | 0]);
      cur = b.end;
    }
    if (before(cur, end)) pieces.push([cur, from + ((cur - start) | 0), (end - cur) | 0]);
    for (const [s, at, n] of pieces) {
      if (n <= 0) continue;
      const take = Math.min(n, this.maxBytes - this.held);
      if (take <= 0) break;
      this.blocks.push(new Block(s, data.slice(at, at + take), stamp));
      this.held += take;
      added += take;
    }
    this.blocks.sort((x, y) => (x.seq - y.seq) | 0);
    this.merge(stamp, start, end);
    return added;
  }

  private merge(stamp: number, start: number, end: number): void {
    const out: Block[] = [];
    for (const b of this.blocks) {
      const last = out[out.length - 1];
      if (last !== undefined && !before(last.end, b.seq)) {
        // Adjacent (they never overlap): join.
        const joined = new Uint8Array(last.data.length + b.data.length);
        joined.set(last.data);
        joined.set(b.data, last.data.length);
        last.data = joined;
        last.touched = Math.max(last.touched, b.touched);
        continue;
      }
      out.push(b);
    }
    // The block containing the newest segment counts as touched now.
    for (const b of out) if (!before(end, b.seq) && !before(b.end, start)) b.touched = stamp;
    this.blocks = out;
  }

  /** Moves the bytes now in order at rcvNxt into `out`; returns how many. */
  pull(rcvNxt: number, out: ByteRing): number {
    let moved = 0;
    let next = rcvNxt | 0;
    while (this.blocks.length) {
      const b = this.blocks[0]!;
      if (before(next, b.seq)) break;
      const skip = (next - b.seq) | 0;
      if (skip >= b.data.length) {
        this.blocks.shift();
        this.held -= b.data.length;
        continue;
      }
      const n = out.write(b.data, skip, b.data.length - skip);
      moved += n;
      next = (next + n) | 0;
      if (skip + n < b.data.length) {
        // The receive buffer filled: keep the rest.
        this.held -= skip + n;
        b.data = b.data.slice(skip + n);
        b.seq = next;
        break;
      }
      this.blocks.shift();
      this.held -= b.data.length;
    }
    return moved;
  }

  /** RFC 2018 §4: up to `max` blocks as left/right edge pairs, most recently touched first. */
  sackBlocks(out: number[] | Uint32Array, max: number): number {
    const order = this.blocks.slice().sort((x, y) => y.touched - x.touched);
    const n = Math.min(max, order.length);
    for (let k = 0; k < n; k++) {
      out[2 * k] = order[k]!.seq >>> 0;
      out[2 * k + 1] = order[k]!.end >>> 0;
    }
    return n;
  }
}
