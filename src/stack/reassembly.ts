// Fragment reassembly for IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200 §4.5), with
// Linux's limits: a lifetime per datagram (net.ipv4.ipfrag_time 30 s,
// net.ipv6.ip6frag_time 60 s), a memory bound (ipfrag_high_thresh / ip6frag_high_thresh,
// 4 MiB) past which the oldest datagrams are evicted, exact duplicates ignored and any
// other overlap discarding the whole datagram (RFC 5722's rule, which Linux also applies
// to IPv4).
//
// Both reassemblers share one `DatagramTable` (the fragment lists, overlap rules, memory
// bound and timers); each adds only its protocol's header handling.

import type { Ipv4Address, Ipv6Address } from '../wire/address.js';
import { Ipv4Packet } from '../wire/ipv4.js';
import { IPV6_HEADER_LEN, NextHeader } from '../wire/ipv6.js';

export interface ReassemblyLimits {
  lifetimeUs: number;
  maxBytes: number;
}
export const LINUX_REASSEMBLY: Readonly<ReassemblyLimits> = Object.freeze({ lifetimeUs: 30_000_000, maxBytes: 4 * 1024 * 1024 });
/** Linux: net.ipv6.ip6frag_time = 60 s (RFC 8200 §4.5), ip6frag_high_thresh = 4 MiB. */
export const LINUX_REASSEMBLY_V6: Readonly<ReassemblyLimits> = Object.freeze({ lifetimeUs: 60_000_000, maxBytes: 4 * 1024 * 1024 });

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
  constructor(
    readonly key: string,
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

/** The fragment lists of the datagrams being reassembled, their memory and their timers. */
class DatagramTable<D extends PendingDatagram> {
  readonly pending = new Map<string, D>();
  bytes = 0;

  constructor(
    readonly counters: ReassemblyCounters,
    readonly limits: ReassemblyLimits,
  ) {}

  /**
   * Stores one fragment's data. Returns false when it was not stored: an exact duplicate
   * (ignored, as Linux's IPFRAG_DUP and RFC 8200 §4.5 allow), or an overlap or a
   * contradictory end, which discards the whole datagram (RFC 5722).
   */
  insert(d: D, offset: number, more: boolean, data: Uint8Array): boolean {
    const end = offset + data.length;
    let i = 0;
    while (i < d.fragments.length && d.fragments[i]!.offset < offset) i++;
    const prev = d.fragments[i - 1];
    const next = d.fragments[i];
    if (next && next.offset === offset && next.data.length === data.length) {
      // Same bytes again; but a copy that disagrees on where the datagram ends is corrupt.
      if (more === (d.total === end)) return this.discard(d);
      this.counters.duplicates++;
      return false;
    }
    if (!more) {
      // A second, different end, or data beyond the end: the datagram is corrupt.
      if ((d.total >= 0 && d.total !== end) || d.fragments.some((f) => f.end > end)) return this.discard(d);
      d.total = end;
    } else if (d.total >= 0 && end > d.total) return this.discard(d);
    if ((prev && prev.end > offset) || (next && next.offset < end)) return this.discard(d);
    d.fragments.splice(i, 0, new Fragment(offset, data.slice()));
    d.bytes += data.length;
    this.bytes += data.length;
    if (offset === 0) d.haveFirst = true;
    return true;
  }

  /** Every byte from 0 to the end has arrived. */
  complete(d: D): boolean {
    if (d.total < 0 || !d.haveFirst) return false;
    let at = 0;
    for (const f of d.fragments) {
      if (f.offset !== at) return false;
      at = f.end;
    }
    return at === d.total;
  }

  /** Copies the fragments' data into `into` at `at`. */
  gather(d: D, into: Uint8Array, at: number): void {
    for (const f of d.fragments) into.set(f.data, at + f.offset);
  }

  /** Expires datagrams past their lifetime, telling `expired` of each; returns the next deadline. */
  poll(now: number, expired: (d: D) => void): number {
    if (this.pending.size === 0) return Infinity; // the usual case: no iterator allocated
    let next = Infinity;
    for (const d of this.pending.values()) {
      if (d.deadline <= now) {
        this.drop(d);
        this.counters.timeouts++;
        expired(d);
      } else if (d.deadline < next) next = d.deadline;
    }
    return next;
  }

  discard(d: D): false {
    this.counters.overlaps++;
    this.drop(d);
    return false;
  }

  drop(d: D): void {
    this.pending.delete(d.key);
    this.bytes -= d.bytes;
  }

  /** Evicts the oldest datagrams (Map order is arrival order) until under the bound. */
  enforceMemory(keep: D): void {
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

class PendingIpv4Datagram extends PendingDatagram {
  /** The first fragment's IP header and its first 8 data bytes (for the ICMP message). */
  firstHeader: Uint8Array | null = null;
  constructor(
    key: string,
    deadline: number,
    readonly src: Ipv4Address,
  ) {
    super(key, deadline);
  }
}

export class Ipv4Reassembler {
  private readonly table: DatagramTable<PendingIpv4Datagram>;
  readonly counters: ReassemblyCounters = { reassembled: 0, timeouts: 0, overlaps: 0, duplicates: 0, evicted: 0, malformed: 0 };
  readonly limits: ReassemblyLimits;

  constructor(
    limits: Partial<ReassemblyLimits> = {},
    /** Called when a datagram whose first fragment arrived times out (RFC 792 time exceeded, code 1). */
    private readonly onTimeout: (src: Ipv4Address, firstHeader: Uint8Array) => void = () => {},
  ) {
    this.limits = { ...LINUX_REASSEMBLY, ...limits };
    this.table = new DatagramTable(this.counters, this.limits);
  }

  get pendingDatagrams(): number {
    return this.table.pending.size;
  }
  get pendingBytes(): number {
    return this.table.bytes;
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
    const table = this.table;
    const key = `${src}:${dst}:${protocol}:${id}`;
    let d = table.pending.get(key);
    if (d === undefined) {
      d = new PendingIpv4Datagram(key, now + this.limits.lifetimeUs, src);
      table.pending.set(key, d);
    }
    if (!table.insert(d, offset, more, data)) return null;
    if (offset === 0) d.firstHeader = header.slice();
    if (table.complete(d) && d.firstHeader !== null) {
      const hl = (d.firstHeader[0]! & 0x0f) * 4;
      if (hl + d.total > 65535) {
        table.discard(d);
        return null;
      }
      const whole = new Uint8Array(hl + d.total);
      whole.set(d.firstHeader.subarray(0, hl));
      table.gather(d, whole, hl);
      const ip = new Ipv4Packet(whole);
      ip.totalLength = whole.length;
      ip.flagsAndOffset = ip.flagsAndOffset & 0x4000; // keep DF; no MF, offset 0
      ip.fillChecksum();
      table.drop(d);
      this.counters.reassembled++;
      return whole;
    }
    table.enforceMemory(d);
    return null;
  }

  /** Expires datagrams past their lifetime; returns the next deadline. */
  poll(now: number): number {
    return this.table.poll(now, (d) => {
      if (d.haveFirst && d.firstHeader) this.onTimeout(d.src, d.firstHeader);
    });
  }
}

// ---------------------------------------------------------------------------------------
// IPv6 (RFC 8200 §4.5)

/**
 * RFC 8200 §4.5: the fragment must be discarded and an ICMPv6 Parameter Problem, code 0
 * (erroneous header field), sent to its source, `pointer` bytes into the fragment packet.
 */
export interface Ipv6FragmentParameterProblem {
  readonly kind: 'parameterProblem';
  readonly code: 0;
  readonly pointer: number;
}

export interface Ipv6ReassemblyCounters extends ReassemblyCounters {
  /** Fragments answered with a parameter problem (length not a multiple of 8, or past 65535). */
  parameterProblems: number;
  /** RFC 6946 atomic fragments (offset 0, M clear), passed through on their own. */
  atomic: number;
}

/** Payload Length field of the IPv6 header (RFC 8200 §3). */
const PAYLOAD_LENGTH_POINTER = 4;
/** The Next Header field of the IPv6 header. */
const IPV6_NEXT_HEADER_OFFSET = 6;
const FRAGMENT_HEADER_LEN = 8;

class PendingIpv6Datagram extends PendingDatagram {
  /** From the offset-0 fragment: its headers before the Fragment header (RFC 8200 §4.5). */
  unfragmentable: Uint8Array | null = null;
  /** Where, in `unfragmentable`, the Next Header field naming the Fragment header is. */
  nextHeaderAt = 0;
  /** The offset-0 fragment's Fragment header Next Header (only that one counts, §4.5). */
  nextHeader = 0;
  constructor(
    key: string,
    deadline: number,
    readonly src: Ipv6Address,
    readonly identification: number,
  ) {
    super(key, deadline);
  }
}

/**
 * Finds the Next Header field of the last header in an unfragmentable part: the IPv6
 * header, then hop-by-hop, destination options, routing or AH headers, ending exactly at
 * the Fragment header. Returns -1 unless the chain is well formed and names the Fragment
 * header last.
 */
function lastNextHeaderField(unfragmentable: Uint8Array): number {
  if (unfragmentable.length < IPV6_HEADER_LEN) return -1;
  let field = IPV6_NEXT_HEADER_OFFSET;
  let at = IPV6_HEADER_LEN;
  while (at < unfragmentable.length) {
    if (at + 2 > unfragmentable.length) return -1;
    const nh = unfragmentable[field]!;
    let len: number;
    if (nh === NextHeader.HopByHop || nh === NextHeader.DestinationOptions || nh === NextHeader.Routing) len = (unfragmentable[at + 1]! + 1) * 8;
    else if (nh === NextHeader.AH) len = (unfragmentable[at + 1]! + 2) * 4; // RFC 4302 §2.2
    else return -1;
    field = at;
    at += len;
  }
  return at === unfragmentable.length && unfragmentable[field] === NextHeader.Fragment ? field : -1;
}

/** Hex of a 16-byte address; the key is built on the (slow) fragment path only. */
function addressKey(a: Uint8Array): string {
  let s = '';
  for (let i = 0; i < a.length; i++) s += (a[i]! | 0x100).toString(16).slice(1);
  return s;
}

/**
 * IPv6 reassembly, RFC 8200 §4.5, keyed on (source, destination, identification).
 *
 * - A fragment with M set whose length is not a multiple of 8 is answered with a parameter
 *   problem at the Payload Length field (pointer 4); one whose reassembled Payload Length
 *   (this fragment's extension headers + offset + length) would pass 65535, with a
 *   parameter problem at the Fragment Offset field (pointer = unfragmentable.length + 2).
 * - Overlaps discard the whole datagram silently (RFC 5722). Exact duplicates (same offset,
 *   length and M) are ignored, as RFC 8200 §4.5 permits; Linux goes further and also
 *   ignores a fragment lying wholly inside data already received, which RFC 5722 counts
 *   as an overlap — we discard those.
 * - An atomic fragment (offset 0, M clear; RFC 6946) is returned at once, never mixed with
 *   a pending datagram of the same identification.
 * - A datagram not completed within the lifetime (60 s) is dropped; if its offset-0
 *   fragment arrived, `onTimeout` gets that fragment packet rebuilt (unfragmentable part,
 *   Fragment header, data) so the caller can quote it in an ICMPv6 Time Exceeded, code 1,
 *   truncating it to fit the minimum MTU (RFC 4443 §3.3).
 */
export class Ipv6Reassembler {
  private readonly table: DatagramTable<PendingIpv6Datagram>;
  readonly counters: Ipv6ReassemblyCounters = {
    reassembled: 0, timeouts: 0, overlaps: 0, duplicates: 0, evicted: 0, malformed: 0, parameterProblems: 0, atomic: 0,
  };
  readonly limits: ReassemblyLimits;

  constructor(
    limits: Partial<ReassemblyLimits> = {},
    /** Called when a datagram whose first fragment arrived times out (RFC 8200 §4.5). */
    private readonly onTimeout: (src: Ipv6Address, firstFragmentPacket: Uint8Array) => void = () => {},
  ) {
    this.limits = { ...LINUX_REASSEMBLY_V6, ...limits };
    this.table = new DatagramTable(this.counters, this.limits);
  }

  get pendingDatagrams(): number {
    return this.table.pending.size;
  }
  get pendingBytes(): number {
    return this.table.bytes;
  }

  /**
   * Adds one fragment.
   *
   * `unfragmentable` is this fragment packet's bytes before its Fragment header: the IPv6
   * header and any hop-by-hop, destination-options, routing or AH headers, the last Next
   * Header field naming the Fragment header (44). Only the offset-0 fragment's copy is
   * kept. `nextHeader`, `identification`, `offsetBytes` and `more` come from the Fragment
   * header; `data` is what follows it.
   *
   * Returns, when the datagram completes, a new whole IPv6 packet: the offset-0 fragment's
   * unfragmentable part with its last Next Header field set to that fragment's Fragment
   * header Next Header and its Payload Length recomputed, then the reassembled data.
   * Returns a parameter problem when the fragment must be answered with one; otherwise null.
   */
  add(src: Ipv6Address, dst: Ipv6Address, identification: number, offsetBytes: number, more: boolean, nextHeader: number, unfragmentable: Uint8Array, data: Uint8Array, now: number): Uint8Array | null | Ipv6FragmentParameterProblem {
    // RFC 8200 §4.5: every fragment but the last is a multiple of 8 octets long...
    if (more && (data.length & 7) !== 0) return this.parameterProblem(PAYLOAD_LENGTH_POINTER);
    // ...and the packet reassembled from it may not have a Payload Length over 65535.
    const extensionBytes = unfragmentable.length - IPV6_HEADER_LEN;
    if (extensionBytes + offsetBytes + data.length > 65535) return this.parameterProblem(unfragmentable.length + 2);
    // Linux: a fragment with M set and no data is discarded (ip6_frag_queue).
    if (extensionBytes < 0 || (more && data.length === 0)) {
      this.counters.malformed++;
      return null;
    }
    if (offsetBytes === 0 && !more) {
      // RFC 6946 §4: an atomic fragment is processed on its own, in isolation from
      // fragments with the same identification that may be pending.
      const whole = this.build(unfragmentable, nextHeader, data.length);
      if (whole === null) return null;
      whole.set(data, unfragmentable.length);
      this.counters.atomic++;
      return whole;
    }
    const table = this.table;
    const key = `${addressKey(src)}>${addressKey(dst)}:${identification}`;
    let d = table.pending.get(key);
    if (d === undefined) {
      d = new PendingIpv6Datagram(key, now + this.limits.lifetimeUs, src.slice(), identification);
      table.pending.set(key, d);
    }
    if (offsetBytes === 0) {
      const field = lastNextHeaderField(unfragmentable);
      if (field < 0) {
        this.counters.malformed++;
        if (d.fragments.length === 0) table.drop(d);
        return null;
      }
      if (!table.insert(d, offsetBytes, more, data)) return null;
      d.unfragmentable = unfragmentable.slice();
      d.nextHeaderAt = field;
      d.nextHeader = nextHeader;
    } else if (!table.insert(d, offsetBytes, more, data)) return null;

    if (table.complete(d) && d.unfragmentable !== null) {
      // Linux: a first fragment with more extension headers than the others can still
      // push the whole past 65535; that is dropped silently (ip6_frag_reasm).
      if (d.unfragmentable.length - IPV6_HEADER_LEN + d.total > 65535) {
        table.discard(d);
        return null;
      }
      const whole = this.build(d.unfragmentable, d.nextHeader, d.total, d.nextHeaderAt)!;
      table.gather(d, whole, d.unfragmentable.length);
      table.drop(d);
      this.counters.reassembled++;
      return whole;
    }
    table.enforceMemory(d);
    return null;
  }

  /** Expires datagrams past their lifetime; returns the next deadline. */
  poll(now: number): number {
    return this.table.poll(now, (d) => {
      if (d.haveFirst && d.unfragmentable !== null) this.onTimeout(d.src, this.firstFragmentPacket(d));
    });
  }

  /**
   * A packet of the unfragmentable part followed by room for `dataLength` bytes, with the
   * last Next Header set and Payload Length recomputed (RFC 8200 §4.5). Null if the
   * unfragmentable part is malformed.
   */
  private build(unfragmentable: Uint8Array, nextHeader: number, dataLength: number, field = lastNextHeaderField(unfragmentable)): Uint8Array | null {
    if (field < 0) {
      this.counters.malformed++;
      return null;
    }
    const whole = new Uint8Array(unfragmentable.length + dataLength);
    whole.set(unfragmentable);
    whole[field] = nextHeader;
    const payloadLength = whole.length - IPV6_HEADER_LEN;
    whole[4] = payloadLength >>> 8;
    whole[5] = payloadLength & 0xff;
    return whole;
  }

  /** The offset-0 fragment as it arrived: unfragmentable part, Fragment header, data. */
  private firstFragmentPacket(d: PendingIpv6Datagram): Uint8Array {
    const u = d.unfragmentable!;
    const first = d.fragments[0]!.data; // offset 0: haveFirst holds
    const p = new Uint8Array(u.length + FRAGMENT_HEADER_LEN + first.length);
    p.set(u);
    const f = u.length;
    p[f] = d.nextHeader;
    p[f + 3] = 1; // offset 0, M set: the first of several
    p[f + 4] = d.identification >>> 24;
    p[f + 5] = (d.identification >>> 16) & 0xff;
    p[f + 6] = (d.identification >>> 8) & 0xff;
    p[f + 7] = d.identification & 0xff;
    p.set(first, f + FRAGMENT_HEADER_LEN);
    return p;
  }

  private parameterProblem(pointer: number): Ipv6FragmentParameterProblem {
    this.counters.parameterProblems++;
    return { kind: 'parameterProblem', code: 0, pointer };
  }
}
