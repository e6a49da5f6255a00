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
  // The receive queue's skbs, oldest first: where each ends (in bytes received) and its truesize.
  private ends: number[] = [];
  private sizes: number[] = [];
  private frags: number[] = [];
  private head = 0;

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
    const tail = this.ends.length - 1;
    if (tail >= this.head && this.frags[tail]! < MAX_FRAGS) {
      this.ends[tail] = received + len;
      this.sizes[tail]! += len;
      this.frags[tail]!++;
      this.forwardAlloc -= len;
    } else {
      this.ends.push(received + len);
      this.sizes.push(truesize);
      this.frags.push(1);
      this.forwardAlloc -= truesize;
    }
    return slow;
  }

  /** Bytes that came in without a segment of their own (pulled from the out-of-order queue) join the tail. */
  extend(received: number): void {
    const tail = this.ends.length - 1;
    if (tail >= this.head) this.ends[tail] = received;
  }

  /** Frees every skb wholly read, then gives whole pages back. */
  release(read: number): void {
    let freed = 0;
    while (this.head < this.ends.length && this.ends[this.head]! <= read) freed += this.sizes[this.head++]!;
    if (this.head === this.ends.length && this.head > 0) {
      this.ends.length = this.sizes.length = this.frags.length = 0;
      this.head = 0;
    } else if (this.head >= 1024) {
      this.ends.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.frags.splice(0, this.head);
      this.head = 0;
    }
    if (freed === 0) return;
    this.forwardAlloc += freed;
    if (this.forwardAlloc >= PAGE) this.forwardAlloc %= PAGE;
  }
}
