// Cached views of one buffer, so that the hot loops can pass "the first n bytes" or "the
// bytes from offset k" to a socket call without creating a new view each time.

export class ViewCache {
  private readonly prefixes: (Uint8Array | undefined)[] = [];
  private readonly tails: (Uint8Array | undefined)[] = [];

  /** Views of buf[start, start + size). */
  constructor(
    readonly buf: Uint8Array,
    readonly start = 0,
    readonly size = buf.length - start,
  ) {}

  /** buf[start, start + len). */
  prefix(len: number): Uint8Array {
    let v = this.prefixes[len];
    if (v === undefined) this.prefixes[len] = v = this.buf.subarray(this.start, this.start + len);
    return v;
  }

  /** buf[start + off, start + size). */
  tail(off: number): Uint8Array {
    let v = this.tails[off];
    if (v === undefined) this.tails[off] = v = this.buf.subarray(this.start + off, this.start + this.size);
    return v;
  }
}
