// IPv4 reassembly (RFC 791 §3.2, RFC 815), with Linux's limits: a 30 s lifetime per
// datagram (net.ipv4.ipfrag_time), a memory bound (ipfrag_high_thresh, 4 MiB) past which
// the oldest datagrams are evicted, exact duplicates ignored and any other overlap
// discarding the whole datagram (RFC 5722's rule, which Linux also applies to IPv4).

import type { Ipv4Address } from '../wire/address.js';
import { Ipv4Packet } from '../wire/ipv4.js';

export interface ReassemblyLimits {
  lifetimeUs: number;
  maxBytes: number;
}
export const LINUX_REASSEMBLY: Readonly<ReassemblyLimits> = Object.freeze({ lifetimeUs: 30_000_000, maxBytes: 4 * 1024 * 1024 });

class Fragment {
  constructor(
    readonly offset: number,
    readonly data: Uint8Array,
  ) {}
  get end(): number {
    return this.offset + this.data.length;
  }
}

class PendingDatagram {
  readonly fragments: Fragment[] = [];
  /** Known once the fragment with MF clear arrives. */
  total = -1;
  bytes = 0;
  /** The first fragment (offset 0) arrived: a timeout then earns an ICMP time exceeded. */
  haveFirst = false;
  /** The first fragment's IP header and its first 8 data bytes (for the ICMP message). */
  firstHeader: Uint8Array | null = null;
  constructor(
    readonly key: string,
    readonly src: Ipv4Address,
    readonly deadline: number,
  ) {}
}

export interface ReassemblyCounters {
  reassembled: number;
  timeouts: number;
  overlaps: number;
  duplicates: number;
  evicted: number;
  malformed: number;
}

export class Ipv4Reassembler {
  private readonly pending = new Map<string, PendingDatagram>();
  private bytes = 0;
  readonly counters: ReassemblyCounters = { reassembled: 0, timeouts: 0, overlaps: 0, duplicates: 0, evicted: 0, malformed: 0 };
  readonly limits: ReassemblyLimits;

  constructor(
    limits: Partial<ReassemblyLimits> = {},
    /** Called when a datagram whose first fragment arrived times out (RFC 792 time exceeded, code 1). */
    private readonly onTimeout: (src: Ipv4Address, firstHeader: Uint8Array) => void = () => {},
  ) {
    this.limits = { ...LINUX_REASSEMBLY, ...limits };
  }

  get pendingDatagrams(): number {
    return this.pending.size;
  }
  get pendingBytes(): number {
    return this.bytes;
  }

  /**
   * Adds one fragment. `offset` is in bytes, `data` the fragment's payload, `header` its IP
   * header followed by up to 8 data bytes (kept for an ICMP error). Returns the whole
   * datagram, the first fragment's header with lengths and fragment fields rewritten,
   * when it completes.
   */
  add(src: Ipv4Address, dst: Ipv4Address, protocol: number, id: number, offset: number, more: boolean, data: Uint8Array, header: Uint8Array, now: number): Uint8Array | null {
    // RFC 791: every fragment but the last carries a multiple of 8 bytes; 65535 is the limit.
    if ((more && (data.length & 7) !== 0) || offset + data.length > 65535 || (more && data.length === 0)) {
      this.counters.malformed++;
      return null;
    }
    const key = `${src}:${dst}:${protocol}:${id}`;
    let d = this.pending.get(key);
    if (d === undefined) {
      d = new PendingDatagram(key, src, now + this.limits.lifetimeUs);
      this.pending.set(key, d);
    }
    const end = offset + data.length;
    if (!more) {
      // A second, different end, or data beyond the end: the datagram is corrupt.
      if ((d.total >= 0 && d.total !== end) || d.fragments.some((f) => f.end > end)) return this.discard(d, 'overlaps');
      d.total = end;
    } else if (d.total >= 0 && end > d.total) return this.discard(d, 'overlaps');
    // Find the insertion point; check overlap with the neighbours.
    let i = 0;
    while (i < d.fragments.length && d.fragments[i]!.offset < offset) i++;
    const prev = d.fragments[i - 1];
    const next = d.fragments[i];
    if (next && next.offset === offset && next.data.length === data.length) {
      this.counters.duplicates++; // Linux: IPFRAG_DUP, ignored
      return null;
    }
    if ((prev && prev.end > offset) || (next && next.offset < end)) return this.discard(d, 'overlaps');
    d.fragments.splice(i, 0, new Fragment(offset, data.slice()));
    d.bytes += data.length;
    this.bytes += data.length;
    if (offset === 0) {
      d.haveFirst = true;
      d.firstHeader = header.slice();
    }
    if (d.total >= 0 && d.firstHeader !== null && this.contiguous(d)) {
      const hl = (d.firstHeader[0]! & 0x0f) * 4;
      if (hl + d.total > 65535) return this.discard(d, 'overlaps');
      const whole = new Uint8Array(hl + d.total);
      whole.set(d.firstHeader.subarray(0, hl));
      for (const f of d.fragments) whole.set(f.data, hl + f.offset);
      const ip = new Ipv4Packet(whole);
      ip.totalLength = whole.length;
      ip.flagsAndOffset = ip.flagsAndOffset & 0x4000; // keep DF; no MF, offset 0
      ip.fillChecksum();
      this.drop(d);
      this.counters.reassembled++;
      return whole;
    }
    this.enforceMemory(d);
    return null;
  }

  /** Expires datagrams past their lifetime; returns the next deadline. */
  poll(now: number): number {
    let next = Infinity;
    for (const d of this.pending.values()) {
      if (d.deadline <= now) {
        this.drop(d);
        this.counters.timeouts++;
        if (d.haveFirst && d.firstHeader) this.onTimeout(d.src, d.firstHeader);
      } else if (d.deadline < next) next = d.deadline;
    }
    return next;
  }

  private contiguous(d: PendingDatagram): boolean {
    let at = 0;
    for (const f of d.fragments) {
      if (f.offset !== at) return false;
      at = f.end;
    }
    return at === d.total;
  }

  private discard(d: PendingDatagram, why: 'overlaps'): null {
    this.counters[why]++;
    this.drop(d);
    return null;
  }

  private drop(d: PendingDatagram): void {
    this.pending.delete(d.key);
    this.bytes -= d.bytes;
  }

  /** Evicts the oldest datagrams (Map order is arrival order) until under the bound. */
  private enforceMemory(keep: PendingDatagram): void {
    for (const d of this.pending.values()) {
      if (this.bytes <= this.limits.maxBytes) return;
      if (d === keep) continue;
      this.drop(d);
      this.counters.evicted++;
    }
    if (this.bytes > this.limits.maxBytes) {
      this.drop(keep);
      this.counters.evicted++;
    }
  }
}
