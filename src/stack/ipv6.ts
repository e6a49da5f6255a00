// The IPv6 layer (RFC 8200) of the engine: input with extension-header processing,
// reassembly, output with fragmentation, routing and RFC 6724 source selection, path MTU
// (RFC 8201), ICMPv6 (RFC 4443) echo and errors, UDP over IPv6, and the glue to MLD and
// neighbour discovery (ndp.ts). The Stack owns interfaces, sockets and the loopback.

import type { SeededRng } from '../rng.js';
import type { Ipv6Address } from '../wire/address.js';
import { EtherType } from '../wire/ethernet.js';
import { IPV6_HEADER_LEN, NextHeader } from '../wire/ipv6.js';
import { emitIcmpv6, icmpv6ReprLength, Icmpv6Type, type Icmpv6Repr } from '../wire/icmpv6.js';
import { foldSum, ipv6PseudoHeaderSum, sumBytes, finishChecksum } from '../wire/checksum.js';
import { UDP_HEADER_LEN } from '../wire/udp.js';
import { writeU16, writeU32 } from '../wire/bytes.js';
import { IpProtocol } from '../wire/ipv4.js';
import { ErrnoError, type ErrnoName } from '../errno.js';
import { MldHost, type MldMessage } from './mld.js';
import { NeighborCache } from './neighbor-cache.js';
import { Ipv6Reassembler, type ReassemblyLimits } from './reassembly.js';
import { selectSource, type SourceCandidate } from './source-select.js';
import { AddressState, Ipv6InterfaceAddress, type NetInterface } from './interface.js';
import { Ndp } from './ndp.js';
import {
  ALL_NODES, IPV6_LOOPBACK, IPV6_MIN_MTU, MLDV2_ROUTERS, ipv6Equal, ipv6Key, isLinkLocal6, isLoopback6, isMulticast6,
  isUnspecified6, isV4Mapped, multicastMac6, multicastScope6, prefixMatch6,
} from './ipv6-address.js';
import type { Stack } from './stack.js';
import type { UdpSocket } from './udp.js';

/** Linux's default hop limit (net.ipv6.conf.*.hop_limit). */
export const DEFAULT_HOP_LIMIT = 64;
/** RFC 2711 Router Alert hop-by-hop option for MLD (value 0), padded to 8 bytes. */
const HBH_ROUTER_ALERT = Uint8Array.of(0, 0, 5, 2, 0, 0, 1, 0);
const PMTU_EXPIRES_US = 600_000_000;
const MAX_PMTU_ENTRIES = 4096;
/** RFC 4443 §2.4 (c): an error carries as much of the invoking packet as fits in the minimum MTU. */
const ICMPV6_ERROR_MAX = IPV6_MIN_MTU - IPV6_HEADER_LEN - 8;

/** Where an IPv6 packet goes. */
export class Route6 {
  iface: NetInterface | null = null;
  nextHop: Ipv6Address = IPV6_LOOPBACK;
}

export class Ipv6Layer {
  readonly reassembly: Ipv6Reassembler;
  readonly ndp: Ndp;
  private readonly pathMtu = new Map<string, { mtu: number; expires: number }>();
  private fragmentId: number;
  private readonly mac = new Uint8Array(6);
  private readonly route = new Route6();

  constructor(
    private readonly stack: Stack,
    reassembly: Partial<ReassemblyLimits> | undefined,
  ) {
    this.fragmentId = stack.rng.int(0, 0x7fffffff);
    this.ndp = new Ndp(stack, this);
    this.reassembly = new Ipv6Reassembler(reassembly, (src, first) => {
      // RFC 8200 §4.5: time exceeded, code 1, when the first fragment had arrived.
      const iface = this.routeTo(src, 0);
      if (iface !== null) this.sendIcmpError(iface, first, 0, first.length, Icmpv6Type.TimeExceeded, 1, 0);
    });
  }

  /** A neighbour cache for an interface, soliciting with NS (RFC 4861 §7.2). */
  neighborCache(iface: () => NetInterface, rng: SeededRng): NeighborCache<string> {
    return new NeighborCache<string>(rng, {
      solicit: (key, unicastTo) => this.ndp.solicit(iface(), key, unicastTo),
      resolved: (e) => {
        for (const p of e.queue) this.stack.sendFrame(iface(), e.mac, EtherType.IPv6, p);
      },
      failed: (key, dropped, packets) => {
        const i = iface();
        this.stack.counters.droppedUnresolved += dropped;
        i.counters.txDropUnresolved += dropped;
        this.stack.rememberUnreachable(keyToIpv6(key));
        // Linux's ndisc_error_report: an ICMPv6 address unreachable to ourselves.
        for (const p of packets) this.icmpErrorToUdp(p, 0, p.length, 'EHOSTUNREACH', false);
      },
      queueOverflow: () => {
        this.stack.counters.droppedUnresolved++;
        iface().counters.txDropUnresolved++;
      },
    }, this.stack.neighborParams);
  }

  mldHost(iface: () => NetInterface, rng: SeededRng): MldHost {
    return new MldHost(rng, (m) => this.sendMld(iface(), m));
  }

  /** An Ethernet interface came up: link-local address, DAD, then router solicitation (RFC 4862 §5.3). */
  interfaceUp(iface: NetInterface): void {
    this.ndp.interfaceUp(iface);
  }

  addAddress(iface: NetInterface, address: Ipv6Address, prefixLength: number, opts: { dad?: boolean; origin?: 'static' | 'link' | 'slaac' } = {}): Ipv6InterfaceAddress {
    const existing = iface.findIpv6(address);
    if (existing !== null) return existing;
    const a = new Ipv6InterfaceAddress(Uint8Array.from(address), prefixLength, opts.origin ?? 'static');
    iface.ipv6.push(a);
    if (iface.isLoopback || opts.dad === false) a.state = AddressState.Preferred;
    this.ndp.addressAdded(iface, a, opts.dad !== false && !iface.isLoopback);
    return a;
  }

  removeAddress(iface: NetInterface, address: Ipv6Address): boolean {
    const a = iface.findIpv6(address);
    if (a === null) return false;
    iface.ipv6.splice(iface.ipv6.indexOf(a), 1);
    this.ndp.addressRemoved(iface, a);
    return true;
  }

  /** One of our usable IPv6 addresses (any interface, or only `ifindex`). */
  isLocal(ip: Uint8Array, ifindex: number, at = 0): boolean {
    for (const i of this.stack.interfaces) {
      if (ifindex !== 0 && i.index !== ifindex) continue;
      const a = i.findIpv6(ip, at);
      if (a !== null && a.usable) return true;
    }
    return false;
  }

  /** The interface multicast to `group` leaves by when none is given: the first IPv6 Ethernet one. */
  defaultMulticastInterface(_group: Ipv6Address): number {
    for (const i of this.stack.interfaces) if (i.ipv6Enabled && !i.isLoopback) return i.index;
    return 0;
  }

  /**
   * Routing (Linux's fib6 lookup, reduced): our own addresses and ::1 go through lo;
   * multicast and link-local destinations leave by the given interface (or the default
   * one); otherwise the longest prefix among interface prefixes and the table wins.
   */
  routeInto(dst: Uint8Array, ifindex: number, out: Route6): boolean {
    const s = this.stack;
    // Our own addresses go through lo whatever interface the socket names (Linux's local table comes first).
    if (isLoopback6(dst) || this.isLocal(dst, 0)) {
      out.iface = s.lo;
      out.nextHop = dst;
      return true;
    }
    if (isMulticast6(dst) || isLinkLocal6(dst)) {
      const idx = ifindex || this.defaultMulticastInterface(dst);
      const i = s.interface(idx);
      if (i === null) return false;
      if (this.isLocal(dst, idx)) out.iface = s.lo;
      else out.iface = i;
      out.nextHop = dst;
      return true;
    }
    let bestLen = -1;
    for (const i of s.interfaces) {
      if (i.isLoopback || !i.ipv6Enabled || (ifindex !== 0 && i.index !== ifindex)) continue;
      // An address's prefix is on-link (a /128 names only itself).
      for (const a of i.ipv6) {
        if (a.state === AddressState.Duplicate || a.prefixLength >= 128 || a.prefixLength <= bestLen) continue;
        if (!prefixMatch6(dst, 0, a.address, a.prefixLength)) continue;
        bestLen = a.prefixLength;
        out.iface = i;
        out.nextHop = dst;
      }
    }
    const r = s.routes6.lookup(dst, 0, s.now, ifindex);
    if (r !== null && r.prefixLength > bestLen) {
      const idx = r.ifindex || ifindex || (r.gateway ? this.onLinkInterface(r.gateway) : 0);
      const i = s.interface(idx);
      if (i === null) return false;
      out.iface = i;
      out.nextHop = r.gateway ?? dst;
      return true;
    }
    return bestLen >= 0;
  }

  private onLinkInterface(gw: Ipv6Address): number {
    const r = new Route6();
    if (isLinkLocal6(gw)) return this.defaultMulticastInterface(gw);
    return this.routeInto(gw, 0, r) && r.iface ? r.iface.index : 0;
  }

  /** The interface toward `dst`, or null. */
  routeTo(dst: Ipv6Address, ifindex: number): NetInterface | null {
    return this.routeInto(dst, ifindex, this.route) ? this.route.iface : null;
  }

  /** RFC 6724 §5 source address selection over every usable address (Linux: ipv6_dev_get_saddr). */
  sourceFor(dst: Ipv6Address, ifindex: number): Ipv6Address | null {
    const r = new Route6();
    if (!this.routeInto(dst, ifindex, r) || r.iface === null) return null;
    if (r.iface.isLoopback) {
      if (isLoopback6(dst)) return IPV6_LOOPBACK;
      if (!isMulticast6(dst) && !isLinkLocal6(dst)) return Uint8Array.from(dst);
    }
    const out = r.iface.isLoopback ? this.stack.interfaces.find((i) => i.findIpv6(dst) !== null) ?? r.iface : r.iface;
    const candidates: SourceCandidate[] = [];
    for (const i of this.stack.interfaces) {
      for (const a of i.ipv6) {
        if (!a.usable) continue;
        candidates.push({ address: a.address, prefixLength: a.prefixLength, ifindex: i.index, deprecated: a.state === AddressState.Deprecated });
      }
    }
    const c = selectSource(dst, candidates, out.index);
    return c === null ? null : c.address;
  }

  /** The MTU toward `dst`: a learned path MTU while it lasts, else the interface's IPv6 MTU. */
  mtuFor(dst: Ipv6Address, iface: NetInterface): number {
    const linkMtu = iface.mtu6;
    if (this.pathMtu.size === 0) return linkMtu;
    const key = ipv6Key(dst);
    const p = this.pathMtu.get(key);
    if (p === undefined) return linkMtu;
    if (p.expires <= this.stack.now) {
      this.pathMtu.delete(key);
      return linkMtu;
    }
    return Math.min(p.mtu, linkMtu);
  }

  poll(now: number): number {
    let next = Math.min(this.reassembly.poll(now), this.stack.routes6.expire(now), this.ndp.poll(now));
    for (const i of this.stack.interfaces) {
      if (!i.ipv6Enabled) continue;
      next = Math.min(next, i.ndp.poll(now), i.mld.poll(now));
    }
    return next;
  }

  // -------------------------------------------------------------------------------------
  // Input

  /** An IPv6 packet at frame[at..] arrived on `iface` (RFC 8200 §4: the header chain in order). */
  receive(iface: NetInterface, frame: Uint8Array, at: number, now: number): void {
    const s = this.stack;
    if (!iface.ipv6Enabled && !iface.isLoopback) {
      s.dropNotForUs(iface);
      return;
    }
    if (frame.length - at < IPV6_HEADER_LEN || frame[at]! >>> 4 !== 6) {
      s.dropMalformed(iface);
      return;
    }
    const plen = (frame[at + 4]! << 8) | frame[at + 5]!;
    // A payload length of 0 announces a jumbogram (RFC 2675), which Ethernet cannot carry.
    if (plen === 0 && frame[at + 6] === NextHeader.HopByHop || IPV6_HEADER_LEN + plen > frame.length - at) {
      s.dropMalformed(iface);
      return;
    }
    const end = at + IPV6_HEADER_LEN + plen;
    const srcAt = at + 8, dstAt = at + 24;
    // RFC 4291 §2.7: no multicast source; §2.5.3: ::1 never on a wire; §2.5.5.2 (and Linux):
    // no v4-mapped source. Interface-local multicast never arrives from a link.
    if (isMulticast6(frame, srcAt) || (!iface.isLoopback && (isLoopback6(frame, srcAt) || isV4Mapped(frame, srcAt) || isLoopback6(frame, dstAt)))) {
      s.dropMartian(iface);
      return;
    }
    let multicast = false;
    if (isMulticast6(frame, dstAt)) {
      multicast = true;
      if (!iface.isLoopback && multicastScope6(frame, dstAt) <= 1) {
        s.dropMartian(iface);
        return;
      }
      if (!ipv6Equal(frame, dstAt, ALL_NODES) && !iface.mld.isMember(frame.subarray(dstAt, dstAt + 16))) {
        s.dropNotForUs(iface);
        return;
      }
      if (!ipv6Equal(frame, dstAt, ALL_NODES) && !iface.mld.accepts(frame.subarray(dstAt, dstAt + 16), frame.subarray(srcAt, srcAt + 16))) {
        iface.counters.dropSourceFiltered++;
        return;
      }
    } else if (!this.acceptsUnicast(iface, frame, dstAt)) {
      s.dropNotForUs(iface);
      return;
    }
    // No hop limit check: only a forwarding node decrements it and discards at zero (RFC 8200 §3;
    // Linux checks it in ip6_forward only). NDP's own hop limit 255 rule is checked in ndp.ts.
    // Walk the extension headers (RFC 8200 §4.1): hop-by-hop only first, then the rest.
    let nh = frame[at + 6]!;
    let nhFieldAt = at + 6;
    let p = at + IPV6_HEADER_LEN;
    let headers = 0;
    for (;;) {
      if (nh === NextHeader.HopByHop && headers !== 0) {
        this.parameterProblem(iface, frame, at, end, 1, nhFieldAt - at);
        return;
      }
      if (nh === NextHeader.HopByHop || nh === NextHeader.DestinationOptions) {
        if (p + 2 > end || p + (frame[p + 1]! + 1) * 8 > end) {
          s.dropMalformed(iface);
          return;
        }
        const len = (frame[p + 1]! + 1) * 8;
        if (!this.processOptions(iface, frame, at, end, p, len, multicast)) return;
        nhFieldAt = p;
        nh = frame[p]!;
        p += len;
      } else if (nh === NextHeader.Routing) {
        if (p + 4 > end || p + (frame[p + 1]! + 1) * 8 > end) {
          s.dropMalformed(iface);
          return;
        }
        // RFC 8200 §4.4: with segments left we would have to forward; a host implements no
        // routing type (type 0 is deprecated, RFC 5095), so that is a parameter problem.
        if (frame[p + 3] !== 0) {
          this.parameterProblem(iface, frame, at, end, 0, p + 2 - at);
          return;
        }
        nhFieldAt = p;
        nh = frame[p]!;
        p += (frame[p + 1]! + 1) * 8;
      } else if (nh === NextHeader.Fragment) {
        if (p + 8 > end) {
          s.dropMalformed(iface);
          return;
        }
        this.receiveFragment(iface, frame, at, end, p, now);
        return;
      } else break;
      if (++headers > 8) {
        s.dropMalformed(iface);
        return;
      }
    }
    const src = frame.subarray(srcAt, srcAt + 16);
    if (nh === IpProtocol.TCP) {
      if (multicast) this.stack.dropNotForUs(iface);
      else this.stack.tcp.receive6(iface, frame, p, end - p, srcAt, dstAt);
    } else if (nh === IpProtocol.UDP) this.receiveUdp(iface, frame, at, p, end - p, srcAt, dstAt);
    else if (nh === NextHeader.ICMPv6) this.receiveIcmp(iface, frame, at, p, end - p, src, dstAt, now);
    else if (nh === NextHeader.NoNextHeader) return;
    else {
      iface.counters.dropUnknownProtocol++;
      // RFC 8200 §4: an unrecognized Next Header: parameter problem code 1 pointing at it.
      this.parameterProblem(iface, frame, at, end, 1, nhFieldAt - at);
    }
  }

  /** Our unicast address on any interface, usable — or tentative, for DAD's NS only (RFC 4862 §5.4.3). */
  private acceptsUnicast(iface: NetInterface, frame: Uint8Array, dstAt: number): boolean {
    for (const i of this.stack.interfaces) {
      const a = i.findIpv6(frame, dstAt);
      if (a === null) continue;
      if (a.usable) return true;
      if (i === iface && a.state === AddressState.Tentative) return this.isNeighborSolicitation(frame, dstAt - 24);
    }
    return false;
  }

  private isNeighborSolicitation(frame: Uint8Array, at: number): boolean {
    return frame[at + 6] === NextHeader.ICMPv6 && frame[at + IPV6_HEADER_LEN] === Icmpv6Type.NeighborSolicitation;
  }

  /**
   * RFC 8200 §4.2: unrecognized options act by their two high bits — skip, discard,
   * discard with a parameter problem (code 2), or that only for a unicast destination.
   */
  private processOptions(iface: NetInterface, frame: Uint8Array, at: number, end: number, p: number, len: number, multicast: boolean): boolean {
    let i = p + 2;
    const stop = p + len;
    while (i < stop) {
      const type = frame[i]!;
      if (type === 0) {
        i++;
        continue;
      }
      if (i + 2 > stop || i + 2 + frame[i + 1]! > stop) {
        this.stack.dropMalformed(iface);
        return false;
      }
      // PadN (1), Router Alert (5, RFC 2711), Jumbo (0xc2, rejected above).
      if (type !== 1 && type !== 5) {
        const action = type >>> 6;
        if (action !== 0) {
          if (action === 2 || (action === 3 && !multicast)) this.parameterProblem(iface, frame, at, end, 2, i - at);
          else this.stack.counters.droppedMalformed++;
          return false;
        }
      }
      i += 2 + frame[i + 1]!;
    }
    return true;
  }

  private receiveFragment(iface: NetInterface, frame: Uint8Array, at: number, end: number, p: number, now: number): void {
    const fo = (frame[p + 2]! << 8) | frame[p + 3]!;
    const offset = fo & 0xfff8, more = (fo & 1) === 1;
    const id = ((frame[p + 4]! << 24) | (frame[p + 5]! << 16) | (frame[p + 6]! << 8) | frame[p + 7]!) >>> 0;
    const nextHeader = frame[p]!;
    const unfragmentable = frame.subarray(at, p);
    const before = this.reassembly.counters.overlaps + this.reassembly.counters.evicted;
    const r = this.reassembly.add(frame.subarray(at + 8, at + 24), frame.subarray(at + 24, at + 40), id, offset, more, nextHeader, unfragmentable, frame.subarray(p + 8, end), now);
    if (this.reassembly.counters.overlaps + this.reassembly.counters.evicted !== before) iface.counters.dropReassembly++;
    if (r === null) return;
    if (r instanceof Uint8Array) {
      this.receive(iface, r, 0, now);
      return;
    }
    iface.counters.dropReassembly++;
    this.sendIcmpError(iface, frame, at, end, Icmpv6Type.ParameterProblem, 0, r.pointer);
  }

  private parameterProblem(iface: NetInterface, frame: Uint8Array, at: number, end: number, code: number, pointer: number): void {
    this.stack.counters.droppedMalformed++;
    this.sendIcmpError(iface, frame, at, end, Icmpv6Type.ParameterProblem, code, pointer);
  }

  private receiveUdp(iface: NetInterface, frame: Uint8Array, ipAt: number, p: number, len: number, srcAt: number, dstAt: number): void {
    const s = this.stack;
    if (len < UDP_HEADER_LEN) {
      s.dropMalformed(iface);
      return;
    }
    const ulen = (frame[p + 4]! << 8) | frame[p + 5]!;
    if (ulen < UDP_HEADER_LEN || ulen > len) {
      s.dropMalformed(iface);
      return;
    }
    // RFC 8200 §8.1: the checksum is mandatory; a zero one is discarded (RFC 6936 excepts tunnels only).
    const ck = (frame[p + 6]! << 8) | frame[p + 7]!;
    if (ck === 0 || foldSum(sumBytes(frame, p, ulen, ipv6PseudoHeaderSum(frame.subarray(srcAt, srcAt + 16), frame.subarray(dstAt, dstAt + 16), IpProtocol.UDP, ulen))) !== 0xffff) {
      s.counters.udpBadChecksum++;
      iface.counters.dropChecksum++;
      return;
    }
    s.counters.udpIn++;
    const sport = (frame[p]! << 8) | frame[p + 1]!, dport = (frame[p + 2]! << 8) | frame[p + 3]!;
    const ifindex = iface.isLoopback ? this.loopbackOrigin(frame, dstAt) : iface.index;
    if (isMulticast6(frame, dstAt)) {
      const targets = s.broadcastTargets;
      const n = s.udp.lookupAll6(frame, dstAt, dport, frame, srcAt, sport, ifindex, targets);
      let delivered = 0;
      for (let i = 0; i < n; i++) {
        const sock = targets[i]!;
        if (!sock.allowsMulticast6(ifindex, frame, dstAt, frame, srcAt)) continue;
        sock.deliver6(frame, p + UDP_HEADER_LEN, ulen - UDP_HEADER_LEN, frame, srcAt, sport, ifindex);
        delivered++;
      }
      if (delivered === 0) s.counters.udpNoPort++;
      return;
    }
    const sock = s.udp.lookup6(frame, dstAt, dport, frame, srcAt, sport, ifindex);
    if (sock === null) {
      s.counters.udpNoPort++;
      // RFC 4443 §3.1: port unreachable (code 4).
      this.sendIcmpError(iface, frame, ipAt, ipAt + IPV6_HEADER_LEN + ((frame[ipAt + 4]! << 8) | frame[ipAt + 5]!), Icmpv6Type.DestinationUnreachable, 4, 0);
      return;
    }
    sock.deliver6(frame, p + UDP_HEADER_LEN, ulen - UDP_HEADER_LEN, frame, srcAt, sport, ifindex);
  }

  /** For a packet that came through lo: the interface holding its destination (Linux reports that one). */
  private loopbackOrigin(frame: Uint8Array, dstAt: number): number {
    for (const i of this.stack.interfaces) if (i.findIpv6(frame, dstAt) !== null) return i.isLoopback ? 1 : i.index;
    return 1;
  }

  private receiveIcmp(iface: NetInterface, frame: Uint8Array, ipAt: number, p: number, len: number, src: Uint8Array, dstAt: number, now: number): void {
    const s = this.stack;
    if (len < 4) {
      s.dropMalformed(iface);
      return;
    }
    if (foldSum(sumBytes(frame, p, len, ipv6PseudoHeaderSum(src, frame.subarray(dstAt, dstAt + 16), NextHeader.ICMPv6, len))) !== 0xffff) {
      s.counters.icmp6BadChecksum++;
      iface.counters.dropChecksum++;
      return;
    }
    s.counters.icmp6In++;
    const type = frame[p]!, code = frame[p + 1]!;
    const hopLimit = frame[ipAt + 7]!;
    if (type >= 133 && type <= 137) {
      this.ndp.receive(iface, frame, ipAt, p, len, hopLimit, now);
      return;
    }
    if (type === Icmpv6Type.MldQuery || type === 130) {
      this.receiveMldQuery(iface, frame, ipAt, p, len, hopLimit, now);
      return;
    }
    if (len < 8) {
      s.dropMalformed(iface);
      return;
    }
    const original = frame.subarray(p + 8, p + len);
    switch (type) {
      case Icmpv6Type.EchoRequest: {
        s.counters.echoRequestsIn++;
        // RFC 4443 §4.2: reply from the address the request went to, or (multicast) a chosen one.
        const dst = frame.subarray(dstAt, dstAt + 16);
        const from = isMulticast6(dst) ? this.sourceFor(src, iface.index) : Uint8Array.from(dst);
        if (from === null) return;
        const reply = frame.slice(p, p + len);
        reply[0] = Icmpv6Type.EchoReply;
        s.counters.echoRepliesOut++;
        this.sendIcmp(Uint8Array.from(src), reply, from, DEFAULT_HOP_LIMIT, isLinkLocal6(src) ? iface.index : 0);
        return;
      }
      case Icmpv6Type.EchoReply:
        s.echoReplies.push({
          from: Uint8Array.from(src), identifier: (frame[p + 4]! << 8) | frame[p + 5]!, sequence: (frame[p + 6]! << 8) | frame[p + 7]!,
          ttl: hopLimit, data: frame.slice(p + 8, p + len), at: now,
        });
        return;
      case Icmpv6Type.DestinationUnreachable:
        // Linux's icmpv6_err_convert: port unreachable and administratively prohibited are hard.
        if (code === 4) this.icmpErrorToUdp(original, 0, original.length, 'ECONNREFUSED', true);
        else if (code === 1) this.icmpErrorToUdp(original, 0, original.length, 'EACCES', true);
        else if (code === 3) this.icmpErrorToUdp(original, 0, original.length, 'EHOSTUNREACH', false);
        else this.icmpErrorToUdp(original, 0, original.length, 'ENETUNREACH', false);
        return;
      case Icmpv6Type.PacketTooBig:
        this.learnPathMtu(original, ((frame[p + 4]! << 24) | (frame[p + 5]! << 16) | (frame[p + 6]! << 8) | frame[p + 7]!) >>> 0, now);
        return;
      case Icmpv6Type.TimeExceeded:
        this.icmpErrorToUdp(original, 0, original.length, 'EHOSTUNREACH', false);
        return;
      case Icmpv6Type.ParameterProblem:
        this.icmpErrorToUdp(original, 0, original.length, 'EPROTO', true);
        return;
      default:
        return; // RFC 4443 §2.4 (b): unknown informational messages are dropped silently
    }
  }

  /** RFC 3810 §5.1.14 / §6.2: a query from a link-local source, hop limit 1, feeds the MLD host. */
  private receiveMldQuery(iface: NetInterface, frame: Uint8Array, ipAt: number, p: number, len: number, hopLimit: number, now: number): void {
    if (frame[p]! !== 130 || !isLinkLocal6(frame, ipAt + 8) || hopLimit !== 1 || len < 24) {
      if (frame[p]! !== 130) return; // reports from other hosts: nothing to do (no report suppression in v2)
      this.stack.dropMalformed(iface);
      return;
    }
    const group = frame.slice(p + 8, p + 24);
    const general = isUnspecified6(group);
    if (len === 24) {
      iface.mld.query(1, general ? null : group, [], (frame[p + 4]! << 8) | frame[p + 5]!, now);
      return;
    }
    if (len < 28) {
      this.stack.dropMalformed(iface);
      return;
    }
    const n = (frame[p + 26]! << 8) | frame[p + 27]!;
    if (len < 28 + 16 * n) {
      this.stack.dropMalformed(iface);
      return;
    }
    const sources: Uint8Array[] = [];
    for (let k = 0; k < n; k++) sources.push(frame.slice(p + 28 + 16 * k, p + 44 + 16 * k));
    const mrc = (frame[p + 4]! << 8) | frame[p + 5]!;
    // RFC 3810 §5.1.3: Maximum Response Code in milliseconds, exponential form from 32768.
    const ms = mrc < 32768 ? mrc : ((mrc & 0x0fff) | 0x1000) << (((mrc >>> 12) & 7) + 3);
    iface.mld.query(2, general ? null : group, sources, ms, now);
  }

  /** RFC 8201 §4: a Packet Too Big lowers the path MTU to the quoted packet's destination, never below 1280. */
  private learnPathMtu(original: Uint8Array, mtu: number, now: number): void {
    if (original.length < IPV6_HEADER_LEN || !this.isLocal(original, 0, 8)) return;
    const dst = original.subarray(24, 40);
    const iface = this.routeTo(dst, 0);
    if (iface === null) return;
    const clamped = Math.max(IPV6_MIN_MTU, Math.min(mtu, iface.mtu6));
    if (clamped >= iface.mtu6) return;
    const key = ipv6Key(dst);
    if (!this.pathMtu.has(key) && this.pathMtu.size >= MAX_PMTU_ENTRIES) this.pathMtu.delete(this.pathMtu.keys().next().value as string);
    this.pathMtu.set(key, { mtu: clamped, expires: now + PMTU_EXPIRES_US });
  }

  /**
   * An ICMPv6 error (or a local neighbour failure) about one of our UDP datagrams (Linux's
   * __udp6_lib_err): hard errors reach a connected socket; with IPV6_RECVERR every error does.
   */
  icmpErrorToUdp(original: Uint8Array, at: number, len: number, errno: ErrnoName, hard: boolean): void {
    if (len < IPV6_HEADER_LEN + 8) return;
    // Walk a short chain to the UDP header.
    let nh = original[at + 6]!, p = at + IPV6_HEADER_LEN;
    for (let k = 0; k < 4 && (nh === 0 || nh === 60 || nh === 43); k++) {
      if (p + 2 > at + len) return;
      const next = original[p]!;
      p += (original[p + 1]! + 1) * 8;
      nh = next;
    }
    if (nh !== IpProtocol.UDP || p + 8 > at + len) return;
    const sport = (original[p]! << 8) | original[p + 1]!, dport = (original[p + 2]! << 8) | original[p + 3]!;
    const sock = this.stack.udp.lookup6(original, at + 8, sport, original, at + 24, dport, 0);
    if (sock === null) return;
    const connectedHere = sock.remoteFamily === 6 && sock.remotePort === dport && ipv6Equal(original, at + 24, sock.remote6);
    if (sock.recvErr || (hard && connectedHere)) sock.setError(new ErrnoError(errno, 'recvfrom'));
  }

  // -------------------------------------------------------------------------------------
  // Output

  /** UDP over IPv6: the checksum is mandatory (a computed zero goes as all ones, RFC 8200 §8.1). */
  sendUdp(src: Ipv6Address, srcPort: number, dst: Ipv6Address, dstPort: number, data: Uint8Array, from: UdpSocket, ifindex: number): boolean {
    const ulen = UDP_HEADER_LEN + data.length;
    const seg = new Uint8Array(ulen);
    writeU16(seg, 0, srcPort);
    writeU16(seg, 2, dstPort);
    writeU16(seg, 4, ulen);
    seg.set(data, UDP_HEADER_LEN);
    const c = finishChecksum(sumBytes(seg, 0, ulen, ipv6PseudoHeaderSum(src, dst, IpProtocol.UDP, ulen)));
    writeU16(seg, 6, c === 0 ? 0xffff : c);
    this.stack.counters.udpOut++;
    const multicast = isMulticast6(dst);
    const hops = multicast ? from.multicastTtl : from.unicastTtl >= 0 ? from.unicastTtl : -1;
    if (multicast && from.multicastLoop) {
      const i = this.stack.interface(ifindex || this.defaultMulticastInterface(dst));
      // IPV6_MULTICAST_LOOP: local members get a copy, as received on the sending interface.
      if (i !== null && i.mld.isMember(dst) && i.mld.accepts(dst, src)) {
        const packet = this.build(src, dst, IpProtocol.UDP, seg, 1, null);
        this.receiveUdp(i, packet, 0, IPV6_HEADER_LEN, seg.length, 8, 24);
      }
    }
    return this.send(dst, IpProtocol.UDP, seg, src, hops, ifindex);
  }

  /** Sends an ICMPv6 echo request. */
  ping(dst: Ipv6Address, identifier: number, sequence: number, data: Uint8Array, ifindex: number): boolean {
    const msg = new Uint8Array(8 + data.length);
    msg[0] = Icmpv6Type.EchoRequest;
    writeU16(msg, 4, identifier);
    writeU16(msg, 6, sequence);
    msg.set(data, 8);
    const src = this.sourceFor(dst, ifindex);
    if (src === null) {
      this.stack.counters.droppedNoRoute++;
      return false;
    }
    return this.sendIcmp(dst, msg, src, -1, ifindex);
  }

  /** Sends an ICMPv6 message (type, code and body in `msg`), filling its checksum. */
  sendIcmp(dst: Ipv6Address, msg: Uint8Array, src: Ipv6Address, hopLimit: number, ifindex: number, hopByHop: Uint8Array | null = null): boolean {
    msg[2] = 0;
    msg[3] = 0;
    const c = finishChecksum(sumBytes(msg, 0, msg.length, ipv6PseudoHeaderSum(src, dst, NextHeader.ICMPv6, msg.length)));
    writeU16(msg, 2, c);
    this.stack.counters.icmp6Out++;
    return this.send(dst, NextHeader.ICMPv6, msg, src, hopLimit, ifindex, hopByHop);
  }

  /** Sends an ICMPv6 message built from its Repr. */
  sendIcmpRepr(iface: NetInterface, dst: Ipv6Address, src: Ipv6Address, repr: Icmpv6Repr, hopLimit: number, hopByHop: Uint8Array | null = null): void {
    const msg = new Uint8Array(icmpv6ReprLength(repr));
    emitIcmpv6(repr, msg, 0, { version: 6, src, dst });
    this.stack.counters.icmp6Out++;
    this.send(dst, NextHeader.ICMPv6, msg, src, hopLimit, iface.index, hopByHop);
  }

  /**
   * An ICMPv6 error about the packet frame[at, end) (RFC 4443 §2.4): never about an ICMPv6
   * error, nor (except Packet Too Big and an unrecognized option, code 2) about a packet to
   * a multicast or link-layer broadcast address, nor to an unspecified or multicast source.
   */
  sendIcmpError(iface: NetInterface, frame: Uint8Array, at: number, end: number, type: number, code: number, param: number): void {
    const srcAt = at + 8, dstAt = at + 24;
    if (isUnspecified6(frame, srcAt) || isMulticast6(frame, srcAt)) return;
    const dstMulticast = isMulticast6(frame, dstAt);
    const exempt = type === Icmpv6Type.PacketTooBig || (type === Icmpv6Type.ParameterProblem && code === 2);
    if (dstMulticast && !exempt) return;
    if (carriesIcmpv6Error(frame, at, end)) return;
    const src = frame.slice(srcAt, srcAt + 16);
    if (!this.stack.icmpLimiter.allow(ipv6Key(src), this.stack.now)) return;
    const quoted = frame.subarray(at, Math.min(end, at + ICMPV6_ERROR_MAX));
    const msg = new Uint8Array(8 + quoted.length);
    msg[0] = type;
    msg[1] = code;
    writeU32(msg, 4, param);
    msg.set(quoted, 8);
    const from = !dstMulticast && this.isLocal(frame, 0, dstAt) ? frame.slice(dstAt, dstAt + 16) : this.sourceFor(src, iface.index);
    if (from === null) return;
    if (type === Icmpv6Type.DestinationUnreachable) this.stack.counters.icmpUnreachableOut++;
    if (type === Icmpv6Type.TimeExceeded) this.stack.icmpTimeExceededOut++;
    this.sendIcmp(src, msg, from, -1, isLinkLocal6(src) ? iface.index : 0);
  }

  private sendMld(iface: NetInterface, m: MldMessage): void {
    // RFC 3810 §5.2.13: reports come from a link-local address; before one exists (DAD),
    // from :: (§5.2.13 allows it for reports about solicited-node groups). Hop limit 1,
    // Router Alert in a hop-by-hop header (§5).
    const ll = iface.linkLocal();
    const src = ll !== null ? ll.address : new Uint8Array(16);
    let repr: Icmpv6Repr;
    let dst: Ipv6Address;
    if (m.version === 2) {
      repr = { kind: 'mldV2Report', code: 0, reserved: 0, records: m.records };
      dst = MLDV2_ROUTERS;
    } else {
      repr = { kind: m.kind === 'report' ? 'mldV1Report' : 'mldV1Done', code: 0, maxResponseDelay: 0, reserved: 0, group: m.group };
      dst = m.kind === 'report' ? m.group : Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
    }
    this.sendIcmpRepr(iface, dst, src, repr, 1, HBH_ROUTER_ALERT);
  }

  /**
   * Builds and sends an IPv6 packet: route, path MTU, fragmentation (RFC 8200 §4.5, only
   * at the source), neighbour resolution. hopLimit -1: the interface's default.
   */
  send(dst: Ipv6Address, nextHeader: number, payload: Uint8Array, src: Ipv6Address, hopLimit: number, ifindex: number, hopByHop: Uint8Array | null = null): boolean {
    const r = new Route6();
    if (!this.routeInto(dst, ifindex, r) || r.iface === null) {
      this.stack.counters.droppedNoRoute++;
      return false;
    }
    const iface = r.iface;
    const hops = hopLimit >= 0 ? hopLimit : iface.hopLimit || DEFAULT_HOP_LIMIT;
    const mtu = this.mtuFor(dst, iface);
    const hbhLen = hopByHop?.length ?? 0;
    if (IPV6_HEADER_LEN + hbhLen + payload.length <= mtu) {
      this.output(iface, r.nextHop, dst, this.build(src, dst, nextHeader, payload, hops, hopByHop));
      return true;
    }
    // Fragment: each fragment's data a multiple of 8, after the header, hop-by-hop and the 8-byte fragment header.
    const chunk = (mtu - IPV6_HEADER_LEN - hbhLen - 8) & ~7;
    this.fragmentId = (this.fragmentId + 1) >>> 0;
    for (let off = 0; off < payload.length; off += chunk) {
      const piece = payload.subarray(off, Math.min(payload.length, off + chunk));
      const more = off + piece.length < payload.length;
      const frag = new Uint8Array(8 + piece.length);
      frag[0] = nextHeader;
      writeU16(frag, 2, off | (more ? 1 : 0));
      writeU32(frag, 4, this.fragmentId);
      frag.set(piece, 8);
      this.output(iface, r.nextHop, dst, this.build(src, dst, NextHeader.Fragment, frag, hops, hopByHop));
    }
    return true;
  }

  /** An IPv6 packet: fixed header, an optional hop-by-hop header (its first byte patched), then the payload. */
  build(src: Ipv6Address, dst: Ipv6Address, nextHeader: number, payload: Uint8Array, hopLimit: number, hopByHop: Uint8Array | null): Uint8Array {
    const hbhLen = hopByHop?.length ?? 0;
    const packet = new Uint8Array(IPV6_HEADER_LEN + hbhLen + payload.length);
    packet[0] = 0x60;
    writeU16(packet, 4, hbhLen + payload.length);
    packet[6] = hopByHop ? NextHeader.HopByHop : nextHeader;
    packet[7] = hopLimit;
    packet.set(src.subarray(0, 16), 8);
    packet.set(dst.subarray(0, 16), 24);
    if (hopByHop) {
      packet.set(hopByHop, IPV6_HEADER_LEN);
      packet[IPV6_HEADER_LEN] = nextHeader;
    }
    packet.set(payload, IPV6_HEADER_LEN + hbhLen);
    return packet;
  }

  /** Hands a packet to the link: multicast MAC, loopback, or NDP resolution of the next hop. */
  output(iface: NetInterface, nextHop: Ipv6Address, dst: Ipv6Address, packet: Uint8Array): void {
    if (iface.isLoopback) {
      this.stack.sendFrame(iface, this.mac.fill(0), EtherType.IPv6, packet);
      return;
    }
    if (isMulticast6(dst)) {
      this.stack.sendFrame(iface, multicastMac6(dst, this.mac), EtherType.IPv6, packet);
      return;
    }
    const mac = iface.ndp.resolve(ipv6Key(nextHop), packet, this.stack.now);
    if (mac !== null) this.stack.sendFrame(iface, mac, EtherType.IPv6, packet);
  }
}

/**
 * Whether the packet frame[at, end) is an ICMPv6 error message (type < 128), looking past
 * its extension headers as Linux's is_ineligible() does (ipv6_skip_exthdr): RFC 4443
 * §2.4 (e.1) forbids an error about an error however many headers come first. A chain
 * cut short before the ICMPv6 type counts as an error.
 */
function carriesIcmpv6Error(frame: Uint8Array, at: number, end: number): boolean {
  let nh = frame[at + 6]!;
  let p = at + IPV6_HEADER_LEN;
  for (let k = 0; k <= 8; k++) {
    if (nh === NextHeader.ICMPv6) return p >= end || frame[p]! < 128;
    if (p + 8 > end) return false;
    if (nh === NextHeader.HopByHop || nh === NextHeader.DestinationOptions || nh === NextHeader.Routing) {
      nh = frame[p]!;
      p += (frame[p + 1]! + 1) * 8;
    } else if (nh === NextHeader.Fragment) {
      // A non-first fragment holds no upper header: not known to be an error (Linux alike).
      if ((((frame[p + 2]! << 8) | frame[p + 3]!) & 0xfff8) !== 0) return false;
      nh = frame[p]!;
      p += 8;
    } else if (nh === NextHeader.AH) {
      nh = frame[p]!;
      p += (frame[p + 1]! + 2) * 4;
    } else return false;
  }
  return false;
}

/** Back from ipv6Key to 16 bytes. */
export function keyToIpv6(key: string): Ipv6Address {
  const a = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const c = key.charCodeAt(i);
    a[2 * i] = c >>> 8;
    a[2 * i + 1] = c & 0xff;
  }
  return a;
}
