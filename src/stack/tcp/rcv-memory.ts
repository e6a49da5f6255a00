// Linux's receive memory accounting, modelled only as far as it decides behaviour we must
// match: tcp_rcv_established takes its fast path for a data segment only when the socket
// already holds enough forward-allocated memory for the segment's truesize
// (`skb->truesize > sk->sk_forward_alloc` sends it down the slow path, which always runs
// tcp_data_snd_check and so sends data a MSG_MORE send held back).
//
// The rules (measured with SO_MEMINFO on a 6.x kernel over lo):
// - a segment's truesize is its payload plus a fixed sk_buff overhead (833 for one byte);
// - memory is scheduled in whole pages (sk_rmem_schedule → __sk_mem_schedule), enough to
//   cover the truesize beyond what is forward-allocated;
// - a segment coalesced into the queue's tail skb (tcp_try_coalesce, while that skb has
//   fewer than MAX_SKB_FRAGS fragments) is charged its payload only, a new skb its truesize;
// - reading a whole skb frees its truesize (sk_mem_uncharge) and whole pages go back
//   (sk_mem_reclaim), so forward allocation stays below a page.

const PAGE = 4096;
/** SKB_TRUESIZE of a loopback TCP segment less its payload. */
const SKB_OVERHEAD = 832;
/** MAX_SKB_FRAGS: a tail skb takes at most this many coalesced segments. */
const MAX_FRAGS = 17;

export class RcvMemory {
  /** sk_forward_alloc. */
  forwardAlloc = 0;
  // The receive queue's skbs, oldest first, in slots [head, tail): where each ends (in bytes
  // received), its truesize and its fragment count. Typed arrays reused for the connection's
  // life (they grow by doubling, never shrink): accounting allocates nothing per segment.
  private ends = new Float64Array(8);
  private sizes = new Float64Array(8);
  private frags = new Uint8Array(8);
  private head = 0;
  private tail = 0;

  /**
   * An in-order segment of `len` bytes arrives when `received` bytes came before it and
   * `read` were consumed. Returns whether Linux would take the slow path for lack of memory.
   */
  arrive(len: number, received: number, read: number): boolean {
    this.release(read);
    const truesize = SKB_OVERHEAD + len;
    const slow = truesize > this.forwardAlloc;
    // sk_rmem_schedule: whole pages for what forward allocation does not cover.
    if (slow) this.forwardAlloc += Math.ceil((truesize - this.forwardAlloc) / PAGE) * PAGE;
    const last = this.tail - 1;
    if (last >= this.head && this.frags[last]! < MAX_FRAGS) {
      this.ends[last] = received + len;
      this.sizes[last]! += len;
      this.frags[last]!++;
      this.forwardAlloc -= len;
    } else {
      if (this.tail === this.ends.length) this.makeRoom();
      const t = this.tail++;
      this.ends[t] = received + len;
      this.sizes[t] = truesize;
      this.frags[t] = 1;
      this.forwardAlloc -= truesize;
    }
    return slow;
  }

  /** Bytes that came in without a segment of their own (pulled from the out-of-order queue) join the tail. */
  extend(received: number): void {
    if (this.tail > this.head) this.ends[this.tail - 1] = received;
  }

  /** Frees every skb wholly read, then gives whole pages back. */
  release(read: number): void {
    let freed = 0;
    while (this.head < this.tail && this.ends[this.head]! <= read) freed += this.sizes[this.head++]!;
    if (this.head === this.tail) this.head = this.tail = 0;
    if (freed === 0) return;
    this.forwardAlloc += freed;
    if (this.forwardAlloc >= PAGE) this.forwardAlloc %= PAGE;
  }

  /** The slots are full at the end: move the live ones to the front, or double the arrays. */
  private makeRoom(): void {
    const live = this.tail - this.head;
    if (this.head > 0 && live <= this.ends.length >> 1) {
      this.ends.copyWithin(0, this.head, this.tail);
      this.sizes.copyWithin(0, this.head, this.tail);
      this.frags.copyWithin(0, this.head, this.tail);
    } else {
      const grow = <T extends Float64Array | Uint8Array>(a: T, b: T): T => (b.set(a.subarray(this.head, this.tail)), b);
      const n = this.ends.length * 2;
      this.ends = grow(this.ends, new Float64Array(n));
      this.sizes = grow(this.sizes, new Float64Array(n));
      this.frags = grow(this.frags, new Uint8Array(n));
    }
    this.head = 0;
    this.tail = live;
  }
}
