// The protocol engine, first slice: one Ethernet interface with IPv4 addresses, ARP
// with Linux's NUD states, on-link and default-gateway routing, and ICMP echo (answering
// pings, and sending them). Driven only by receive(frame, now) and poll(now); it reads
// no clock, sets no timer and does no I/O of its own (DESIGN.md, "stack").

import type { Link } from '../link/link.js';
import type { SeededRng } from '../rng.js';
import { ArpCache, type NeighborParams } from './arp-cache.js';
import { RouteTable, prefixMask } from './route-table.js';
import { Ipv4Reassembler, type ReassemblyLimits } from './reassembly.js';
import { IcmpRateLimiter, type IcmpRateLimits } from './icmp-rate-limit.js';
import { ALL_ROUTERS, IgmpHost, IGMPV3_ROUTERS, isMulticast, multicastMac } from './igmp.js';
import { emitIgmp, igmpQueryVersion, igmpReprLength, parseIgmp, type IgmpRepr } from '../wire/igmp.js';
import { ParseError } from '../wire/error.js';
import { EthernetFrame, EtherType, ETHERNET_HEADER_LEN } from '../wire/ethernet.js';
import { ArpOperation, ArpPacket, ARP_LEN, emitArp } from '../wire/arp.js';
import { Ipv4Packet, IpProtocol, IPV4_MIN_HEADER_LEN, emitIpv4 } from '../wire/ipv4.js';
import { Icmpv4Packet, Icmpv4Type, ICMPV4_HEADER_LEN, emitIcmpv4 } from '../wire/icmpv4.js';
import type { Ipv4Address, MacAddress } from '../wire/address.js';
import { UdpPacket, UDP_HEADER_LEN, emitUdp } from '../wire/udp.js';
import { ipv4PseudoHeaderSum, finishChecksum, foldSum, sumBytes, prepareChecksumBuffer } from '../wire/checksum.js';
import { writeU16 } from '../wire/bytes.js';
import { UdpSocket, UdpTable, type UdpHost } from './udp.js';
import { ErrnoError } from '../errno.js';

const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const ZERO_MAC = new Uint8Array(6);
/** Linux's default TTL (net.ipv4.ip_default_ttl). */
const DEFAULT_TTL = 64;
/** RFC 2113 IP Router Alert option, value 0. */
const ROUTER_ALERT = Uint8Array.of(0x94, 0x04, 0x00, 0x00);
const NO_OPTIONS = new Uint8Array(0);
const MAX_REMEMBERED_UNREACHABLE = 64;
/** Learned path MTUs kept at most (oldest forgotten first), so forged ICMP cannot grow memory. */
const MAX_PMTU_ENTRIES = 4096;
/** net.ipv4.route.min_pmtu and mtu_expires. */
const MIN_PMTU = 552;
const PMTU_EXPIRES_US = 600_000_000;

export interface Ipv4InterfaceAddress {
  address: Ipv4Address;
  prefixLength: number;
}

export interface StackCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  droppedNotForUs: number;
  droppedMalformed: number;
  droppedNoRoute: number;
  droppedUnresolved: number;
  arpRequestsIn: number;
  arpRepliesOut: number;
  echoRequestsIn: number;
  echoRepliesOut: number;
  udpIn: number;
  udpOut: number;
  udpNoPort: number;
  udpBadChecksum: number;
  icmpUnreachableOut: number;
}

export interface StackOptions {
  mac: MacAddress;
  rng: SeededRng;
  neighbor?: Partial<NeighborParams>;
  reassembly?: Partial<ReassemblyLimits>;
  icmpRateLimits?: Partial<IcmpRateLimits>;
}

export interface EchoReply {
  from: Ipv4Address;
  identifier: number;
  sequence: number;
  ttl: number;
  data: Uint8Array;
  at: number;
}

export class Stack implements UdpHost {
  readonly mac: MacAddress;
  readonly addresses: Ipv4InterfaceAddress[] = [];
  /** Gateway and extra on-link routes; connected subnets come from `addresses`. */
  readonly routes = new RouteTable();
  readonly counters: StackCounters = {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, droppedNotForUs: 0, droppedMalformed: 0, droppedNoRoute: 0, droppedUnresolved: 0,
    arpRequestsIn: 0, arpRepliesOut: 0, echoRequestsIn: 0, echoRepliesOut: 0,
    udpIn: 0, udpOut: 0, udpNoPort: 0, udpBadChecksum: 0, icmpUnreachableOut: 0,
  };
  readonly udp: UdpTable;
  readonly arp: ArpCache;
  readonly reassembly: Ipv4Reassembler;
  readonly icmpLimiter: IcmpRateLimiter;
  readonly igmp: IgmpHost;
  /** ICMP time exceeded (reassembly) messages sent. */
  icmpTimeExceededOut = 0;
  /** Echo replies to our own pings, oldest first. */
  readonly echoReplies: EchoReply[] = [];
  /** The most recent destinations whose resolution failed (bounded), for sockets to report EHOSTUNREACH. */
  readonly unreachable: Ipv4Address[] = [];
  private link: Link | null = null;
  private readonly broadcastTargets: UdpSocket[] = [];
  private readonly mcastMac = new Uint8Array(6);
  /** Learned path MTUs by destination (Linux keeps them in the route's exceptions). */
  private readonly pathMtu = new Map<Ipv4Address, { mtu: number; expires: number }>();
  private now = 0;
  private ipId: number;
  private readonly eth = new EthernetFrame(new Uint8Array(0));
  private readonly ip = new Ipv4Packet(new Uint8Array(0));
  private readonly icmp = new Icmpv4Packet(new Uint8Array(0));
  private readonly arpView = new ArpPacket(new Uint8Array(0));
  private readonly udpView = new UdpPacket(new Uint8Array(0));
  /** One transmit frame, reused: the link copies a frame before transmit() returns. */
  private readonly tx = new Uint8Array(ETHERNET_HEADER_LEN + 65535);
  private readonly txIp = new Ipv4Packet(this.tx, ETHERNET_HEADER_LEN);
  private readonly txRoute = { nextHop: 0, src: 0 };

  constructor(opts: StackOptions) {
    this.mac = Uint8Array.from(opts.mac);
    this.ipId = opts.rng.int(0, 0xffff);
    prepareChecksumBuffer(this.tx);
    this.udp = new UdpTable(opts.rng.fork('udp-ports'));
    this.icmpLimiter = new IcmpRateLimiter(opts.icmpRateLimits);
    this.igmp = new IgmpHost(opts.rng.fork('igmp'), (m) => {
      const empty = new Uint8Array(0);
      // RFC 3376 §4: v3 reports go to 224.0.0.22; v1/v2 reports to the group itself, v2 leaves
      // to 224.0.0.2 (RFC 2236 §3). All with TTL 1; v2 and v3 with Router Alert (RFC 2113).
      const repr: IgmpRepr = m.version === 3
        ? { kind: 'reportV3', reserved1: 0, reserved2: 0, records: m.records, extra: empty }
        : m.kind === 'leave'
          ? { kind: 'leave', maxRespCode: 0, group: m.group, extra: empty }
          : { kind: m.version === 1 ? 'reportV1' : 'reportV2', maxRespCode: 0, group: m.group, extra: empty };
      const dst = m.version === 3 ? IGMPV3_ROUTERS : m.kind === 'leave' ? ALL_ROUTERS : m.group;
      const msg = new Uint8Array(igmpReprLength(repr));
      emitIgmp(repr, msg);
      this.sendIpv4(dst, IpProtocol.IGMP, msg, undefined, 1, m.version === 1 ? NO_OPTIONS : ROUTER_ALERT, 0xc0);
    });
    this.reassembly = new Ipv4Reassembler(opts.reassembly, (src, quoted) => {
      if (!this.icmpLimiter.allow(src, this.now)) return;
      // RFC 792: time exceeded, code 1 (fragment reassembly time exceeded).
      const msg = new Uint8Array(ICMPV4_HEADER_LEN + quoted.length);
      emitIcmpv4({ kind: 'timeExceeded', code: 1, unused: 0, original: quoted }, msg);
      this.icmpTimeExceededOut++;
      this.sendIpv4(src, IpProtocol.ICMP, msg);
    });
    this.arp = new ArpCache(opts.rng.fork('arp'), {
      solicit: (ip, unicastTo) => this.sendArp(ArpOperation.Request, unicastTo ?? BROADCAST_MAC, unicastTo ?? ZERO_MAC, ip),
      resolved: (e) => {
        for (const p of e.queue) this.sendFrame(e.mac, EtherType.IPv4, p);
      },
      failed: (ip, dropped) => {
        this.counters.droppedUnresolved += dropped;
        if (this.unreachable.length === MAX_REMEMBERED_UNREACHABLE) this.unreachable.shift();
        this.unreachable.push(ip);
      },
    }, opts.neighbor);
  }

  attach(link: Link): void {
    this.link = link;
  }

  addAddress(address: Ipv4Address, prefixLength: number): void {
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) throw new RangeError(`prefix length ${prefixLength} not in 0..32`);
    if (!this.addresses.some((a) => a.address === address)) this.addresses.push({ address, prefixLength });
  }

  removeAddress(address: Ipv4Address): boolean {
    const i = this.addresses.findIndex((a) => a.address === address);
    if (i < 0) return false;
    this.addresses.splice(i, 1);
    return true;
  }

  isLocal(ip: Ipv4Address): boolean {
    return this.addresses.some((a) => a.address === ip);
  }

  /** RFC 919/922: limited broadcast, or the directed broadcast of one of our subnets. */
  isBroadcast(ip: Ipv4Address): boolean {
    if (ip === 0xffffffff) return true;
    return this.addresses.some((a) => a.prefixLength < 31 && (ip | prefixMask(a.prefixLength)) >>> 0 === 0xffffffff && ((ip ^ a.address) & prefixMask(a.prefixLength)) === 0);
  }

  /** The connected subnet (longest prefix) holding `ip`, if any. */
  private connected(ip: Ipv4Address): Ipv4InterfaceAddress | null {
    let best: Ipv4InterfaceAddress | null = null;
    for (const a of this.addresses) {
      if (((ip ^ a.address) & prefixMask(a.prefixLength)) === 0 && (best === null || a.prefixLength > best.prefixLength)) best = a;
    }
    return best;
  }

  /**
   * The next hop toward `dst` and the source address to use, or null without a route.
   * Connected subnets and table routes compete by prefix length, as in Linux's main table.
   */
  route(dst: Ipv4Address): { nextHop: Ipv4Address; src: Ipv4Address } | null {
    const r = { nextHop: 0, src: 0 };
    return this.routeInto(dst, r) ? r : null;
  }

  /** route() without allocating: fills `out` and returns true, or returns false without a route. */
  private routeInto(dst: Ipv4Address, out: { nextHop: Ipv4Address; src: Ipv4Address }): boolean {
    if ((dst === 0xffffffff || isMulticast(dst)) && this.addresses.length) {
      out.nextHop = dst;
      out.src = this.addresses[0]!.address;
      return true;
    }
    const direct = this.connected(dst);
    const r = this.routes.lookup(dst);
    if (direct && (r === null || direct.prefixLength >= r.prefixLength)) {
      out.nextHop = dst;
      out.src = direct.address;
      return true;
    }
    if (r === null) return false;
    if (r.gateway === null) {
      const src = r.source ?? this.addresses[0]?.address;
      if (src === undefined) return false;
      out.nextHop = dst;
      out.src = src;
      return true;
    }
    // The gateway must be on a connected subnet (Linux: "Nexthop has invalid gateway").
    const via = this.connected(r.gateway);
    if (via === null) return false;
    out.nextHop = r.gateway;
    out.src = r.source ?? via.address;
    return true;
  }

  /** `ip route replace default via GW` (null removes the default route). */
  set defaultGateway(gw: Ipv4Address | null) {
    if (gw === null) {
      if (this.defaultRoute()) this.routes.remove(0, 0);
    } else this.routes.replace({ prefix: 0, prefixLength: 0, gateway: gw });
  }
  get defaultGateway(): Ipv4Address | null {
    return this.defaultRoute()?.gateway ?? null;
  }
  private defaultRoute() {
    return this.routes.routes.find((r) => r.prefixLength === 0 && r.metric === 0);
  }

  receive(frame: Uint8Array, now: number): void {
    this.now = now;
    this.counters.framesIn++;
    this.counters.bytesIn += frame.length;
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.counters.droppedMalformed++;
      return;
    }
    const eth = this.eth.reset(frame, 0);
    // Accept frames to our MAC and to broadcast; other multicast joins come with IGMP.
    if (!sameMac(frame, 0, this.mac) && !sameMac(frame, 0, BROADCAST_MAC) && !this.acceptsMulticastMac(frame)) {
      this.counters.droppedNotForUs++;
      return;
    }
    if (eth.tagCount !== 0) {
      this.counters.droppedNotForUs++; // no VLAN sub-interfaces yet
      return;
    }
    const type = eth.etherType;
    if (type === EtherType.ARP) this.receiveArp(frame, ETHERNET_HEADER_LEN, now);
    else if (type === EtherType.IPv4) this.receiveIpv4(frame, ETHERNET_HEADER_LEN, now);
    else this.counters.droppedNotForUs++;
  }

  /** An IPv4 multicast MAC (01:00:5e, RFC 1112 §6.4) is accepted; the IP layer checks the exact group. */
  private acceptsMulticastMac(frame: Uint8Array): boolean {
    return frame[0] === 0x01 && frame[1] === 0x00 && frame[2] === 0x5e;
  }

  joinGroup(group: Ipv4Address): void {
    this.igmp.join(group, this.now);
  }
  leaveGroup(group: Ipv4Address): void {
    this.igmp.leave(group, this.now);
  }

  poll(now: number): number {
    this.now = now;
    return Math.min(this.arp.poll(now), this.reassembly.poll(now), this.igmp.poll(now));
  }

  /** A new UDP socket on this stack. */
  udpSocket(): UdpSocket {
    return new UdpSocket(this);
  }

  /** The source address for packets to `dst` (RFC 1122 §3.3.4.3), or null without a route. */
  sourceFor(dst: Ipv4Address): Ipv4Address | null {
    return this.route(dst)?.src ?? null;
  }

  /** @internal Used by UdpSocket. */
  sendUdp(src: Ipv4Address, srcPort: number, dst: Ipv4Address, dstPort: number, data: Uint8Array, from: UdpSocket): boolean {
    if (!isMulticast(dst) && !this.isBroadcast(dst) && this.sendUdpInPlace(src, srcPort, dst, dstPort, data)) return true;
    const seg = new Uint8Array(UDP_HEADER_LEN + data.length);
    emitUdp({ srcPort, dstPort, payload: data }, seg, 0, { version: 4, src, dst });
    this.counters.udpOut++;
    if (!isMulticast(dst)) return this.sendIpv4(dst, IpProtocol.UDP, seg, src);
    // IP_MULTICAST_LOOP: members on this host get a copy, as if it came back from the wire.
    if (from.multicastLoop && this.igmp.isMember(dst)) {
      const n = this.udp.lookupAll(dst, dstPort, src, srcPort, this.broadcastTargets);
      for (let i = 0; i < n; i++) this.broadcastTargets[i]!.deliver(data.slice(), src, srcPort);
    }
    return this.sendIpv4(dst, IpProtocol.UDP, seg, src, from.multicastTtl);
  }

  /**
   * The hot path for a unicast datagram that fits the path MTU to a resolved neighbour:
   * headers are written around the payload in one reused frame, no allocation. Returns
   * false (having sent nothing) when the general path must handle it.
   */
  private sendUdpInPlace(src: Ipv4Address, srcPort: number, dst: Ipv4Address, dstPort: number, data: Uint8Array): boolean {
    const r = this.txRoute;
    if (this.link === null || !this.routeInto(dst, r)) return false;
    const ulen = UDP_HEADER_LEN + data.length;
    const total = IPV4_MIN_HEADER_LEN + ulen;
    if (total > this.mtuFor(dst)) return false;
    const mac = this.arp.lookup(r.nextHop, this.now);
    if (mac === null) return false;
    const tx = this.tx;
    const ipAt = ETHERNET_HEADER_LEN, udpAt = ipAt + IPV4_MIN_HEADER_LEN;
    tx.set(data, udpAt + UDP_HEADER_LEN);
    writeU16(tx, udpAt, srcPort);
    writeU16(tx, udpAt + 2, dstPort);
    writeU16(tx, udpAt + 4, ulen);
    tx[udpAt + 6] = 0;
    tx[udpAt + 7] = 0;
    const c = finishChecksum(sumBytes(tx, udpAt, ulen, ipv4PseudoHeaderSum(src, dst, IpProtocol.UDP, ulen)));
    writeU16(tx, udpAt + 6, c === 0 ? 0xffff : c); // RFC 768: a computed zero is sent as all ones
    this.ipId = (this.ipId + 1) & 0xffff;
    const ip = this.txIp;
    tx[ipAt] = 0x45;
    ip.tos = 0;
    ip.totalLength = total;
    ip.identification = this.ipId;
    ip.flagsAndOffset = 0x4000; // DF (Linux's IP_PMTUDISC_WANT on a datagram that fits)
    ip.ttl = DEFAULT_TTL;
    ip.protocol = IpProtocol.UDP;
    ip.src = src;
    ip.dst = dst;
    ip.fillChecksum();
    tx.set(mac, 0);
    tx.set(this.mac, 6);
    tx[12] = EtherType.IPv4 >>> 8;
    tx[13] = EtherType.IPv4 & 0xff;
    const len = ETHERNET_HEADER_LEN + total;
    if (len < 60) tx.fill(0, len, 60); // IEEE 802.3 minimum frame
    this.counters.udpOut++;
    this.counters.framesOut++;
    this.counters.bytesOut += Math.max(60, len);
    this.link.transmit(tx.subarray(0, Math.max(60, len)));
    return true;
  }

  /** Sends an ICMP echo request (what `ping` does). Returns false without a route. */
  ping(dst: Ipv4Address, identifier: number, sequence: number, data: Uint8Array, now: number): boolean {
    this.now = now;
    const msg = new Uint8Array(ICMPV4_HEADER_LEN + data.length);
    emitIcmpv4({ kind: 'echoRequest', code: 0, identifier, sequence, data }, msg);
    return this.sendIpv4(dst, IpProtocol.ICMP, msg);
  }

  private receiveArp(frame: Uint8Array, at: number, now: number): void {
    if (frame.length - at < ARP_LEN) {
      this.counters.droppedMalformed++;
      return;
    }
    const a = this.arpView.reset(frame, at);
    if (a.hardwareType !== 1 || a.protocolType !== 0x0800 || a.hardwareLength !== 6 || a.protocolLength !== 4) {
      this.counters.droppedMalformed++;
      return;
    }
    const senderMac = frame.subarray(at + 8, at + 14);
    const sender = a.senderIp, target = a.targetIp;
    const forUs = this.isLocal(target);
    // RFC 826 "merge" step: update an existing entry; create one only if the packet is for us.
    if (sender !== 0) this.arp.learn(sender, senderMac, now, a.operation === ArpOperation.Reply && forUs, forUs);
    if (a.operation === ArpOperation.Request && forUs) {
      this.counters.arpRequestsIn++;
      this.counters.arpRepliesOut++;
      this.sendArp(ArpOperation.Reply, Uint8Array.from(senderMac), Uint8Array.from(senderMac), sender, target);
    }
  }

  private receiveIpv4(frame: Uint8Array, at: number, now: number): void {
    const ip = this.ip.reset(frame, at);
    if (ip.check(frame.length - at) !== 0) {
      this.counters.droppedMalformed++;
      return;
    }
    const dst = ip.dst;
    if (!this.isLocal(dst) && !this.isBroadcast(dst) && !(isMulticast(dst) && this.igmp.isMember(dst))) {
      this.counters.droppedNotForUs++; // no forwarding: we are a host (RFC 1122 §3.3.1)
      return;
    }
    if (ip.isFragment) {
      const hl = ip.headerLength;
      const whole = this.reassembly.add(ip.src, dst, ip.protocol, ip.identification, ip.fragmentOffsetBytes, ip.moreFragments,
        frame.subarray(at + hl, at + ip.totalLength), frame.subarray(at, at + hl + Math.min(8, ip.payloadLength)), now);
      if (whole !== null) this.receiveIpv4(whole, 0, now);
      return;
    }
    if (ip.protocol === IpProtocol.ICMP) this.receiveIcmp(frame, ip.payloadOffset, ip.payloadLength, ip.src, dst, ip.ttl, now);
    else if (ip.protocol === IpProtocol.UDP) this.receiveUdp(frame, at, ip.payloadOffset, ip.payloadLength, ip.src, dst);
    else if (ip.protocol === IpProtocol.IGMP) this.receiveIgmp(frame, ip.payloadOffset, ip.payloadLength, now);
  }

  private receiveIgmp(frame: Uint8Array, at: number, len: number, now: number): void {
    const m = parseIgmp(frame, at, len);
    if (m instanceof ParseError) {
      this.counters.droppedMalformed++;
      return;
    }
    // RFC 3376 §7.1: the query's length and Max Resp Code tell its version.
    if (m.kind === 'queryV3' || m.kind === 'query') this.igmp.query(igmpQueryVersion(m) as 1 | 2 | 3, m.group, m.maxRespCode, now);
  }

  private receiveUdp(frame: Uint8Array, ipAt: number, at: number, len: number, src: Ipv4Address, dst: Ipv4Address): void {
    const u = this.udpView.reset(frame, at);
    if (len < UDP_HEADER_LEN || u.length < UDP_HEADER_LEN || u.length > len) {
      this.counters.droppedMalformed++;
      return;
    }
    // RFC 768: a zero checksum means none was computed.
    if (u.checksum !== 0 && foldSum(sumBytes(frame, at, u.length, ipv4PseudoHeaderSum(src, dst, IpProtocol.UDP, u.length))) !== 0xffff) {
      this.counters.udpBadChecksum++;
      return;
    }
    this.counters.udpIn++;
    if (this.isBroadcast(dst) || isMulticast(dst)) {
      // A broadcast or multicast reaches every matching socket, each with its own copy
      // (Linux's default IP_MULTICAST_ALL: membership is the host's, not the socket's).
      const n = this.udp.lookupAll(dst, u.dstPort, src, u.srcPort, this.broadcastTargets);
      if (n === 0) this.counters.udpNoPort++;
      for (let i = 0; i < n; i++) this.broadcastTargets[i]!.deliver(frame.slice(at + UDP_HEADER_LEN, at + u.length), src, u.srcPort);
      return;
    }
    const sock = this.udp.lookup(dst, u.dstPort, src, u.srcPort);
    if (sock === null) {
      this.counters.udpNoPort++;
      // RFC 1122 §3.2.2.1 / §4.1.3.1: port unreachable, never for broadcasts.
      if (this.isLocal(dst)) this.sendPortUnreachable(frame, ipAt, src, dst);
      return;
    }
    sock.deliver(frame.slice(at + UDP_HEADER_LEN, at + u.length), src, u.srcPort);
  }

  /** ICMP destination unreachable (port) quoting the IP header and the start of its data (RFC 792). */
  private sendPortUnreachable(frame: Uint8Array, ipAt: number, src: Ipv4Address, dst: Ipv4Address): void {
    if (!this.icmpLimiter.allow(src, this.now)) return;
    const ip = this.ip.reset(frame, ipAt);
    // Linux quotes as much as fits in 576 bytes (RFC 1812 §4.3.2.3).
    const quoted = frame.slice(ipAt, ipAt + Math.min(ip.totalLength, 576 - IPV4_MIN_HEADER_LEN - ICMPV4_HEADER_LEN));
    const msg = new Uint8Array(ICMPV4_HEADER_LEN + quoted.length);
    emitIcmpv4({ kind: 'destinationUnreachable', code: 3, unused: 0, nextHopMtu: 0, original: quoted }, msg);
    this.counters.icmpUnreachableOut++;
    this.sendIpv4(src, IpProtocol.ICMP, msg, dst);
  }

  /**
   * RFC 1191 §6.1: a fragmentation-needed message lowers the path MTU to the quoted
   * packet's destination. Linux clamps it to net.ipv4.route.min_pmtu (552) and forgets it
   * after mtu_expires (600 s); a message without an MTU (RFC 1191 §5 old routers) is ignored.
   */
  private learnPathMtu(original: Uint8Array, mtu: number, now: number): void {
    if (original.length < IPV4_MIN_HEADER_LEN) return;
    const q = new Ipv4Packet(original);
    if (!this.isLocal(q.src) || mtu === 0) return;
    const linkMtu = this.link?.mtu ?? 1500;
    const clamped = Math.max(MIN_PMTU, Math.min(mtu, linkMtu));
    if (clamped >= linkMtu) return;
    if (!this.pathMtu.has(q.dst) && this.pathMtu.size >= MAX_PMTU_ENTRIES) this.pathMtu.delete(this.pathMtu.keys().next().value as Ipv4Address);
    this.pathMtu.set(q.dst, { mtu: clamped, expires: now + PMTU_EXPIRES_US });
  }

  /** The MTU toward `dst`: a learned path MTU while it lasts, else the link's. */
  mtuFor(dst: Ipv4Address, now = this.now): number {
    const linkMtu = this.link?.mtu ?? 1500;
    const p = this.pathMtu.get(dst);
    if (p === undefined) return linkMtu;
    if (p.expires <= now) {
      this.pathMtu.delete(dst);
      return linkMtu;
    }
    return p.mtu;
  }

  /** An ICMP error quoting one of our UDP datagrams: connected sockets learn of it (Linux: sk_err). */
  private icmpErrorToUdp(original: Uint8Array, errno: 'ECONNREFUSED'): void {
    if (original.length < IPV4_MIN_HEADER_LEN + 8) return;
    const q = new Ipv4Packet(original);
    if (q.protocol !== IpProtocol.UDP || q.headerLength > original.length - 8) return;
    const u = new UdpPacket(original, q.headerLength);
    const sock = this.udp.lookup(q.src, u.srcPort, q.dst, u.dstPort);
    if (sock && sock.connected && sock.remoteAddress === q.dst && sock.remotePort === u.dstPort) {
      sock.pendingError = new ErrnoError(errno, 'recvfrom');
    }
  }

  private receiveIcmp(frame: Uint8Array, at: number, len: number, src: Ipv4Address, dst: Ipv4Address, ttl: number, now: number): void {
    const icmp = this.icmp.reset(frame, at, len);
    if (len < ICMPV4_HEADER_LEN || !icmp.verifyChecksum()) {
      this.counters.droppedMalformed++;
      return;
    }
    if (icmp.type === Icmpv4Type.EchoRequest) {
      this.counters.echoRequestsIn++;
      // RFC 1122 §3.2.2.6: reply with the same data; Linux ignores broadcast pings by default
      // (net.ipv4.icmp_echo_ignore_broadcasts = 1).
      if (!this.isLocal(dst)) return;
      const reply = frame.slice(at, at + len);
      reply[0] = Icmpv4Type.EchoReply;
      reply[2] = 0;
      reply[3] = 0;
      new Icmpv4Packet(reply).fillChecksum();
      this.counters.echoRepliesOut++;
      this.sendIpv4(src, IpProtocol.ICMP, reply, dst);
    } else if (icmp.type === Icmpv4Type.DestinationUnreachable) {
      // Linux (__udp4_lib_err, icmp_err_convert): without IP_RECVERR only hard errors reach a
      // connected socket; port unreachable is hard (ECONNREFUSED), net/host unreachable soft.
      if (icmp.code === 3) this.icmpErrorToUdp(frame.subarray(at + 8, at + len), 'ECONNREFUSED');
      else if (icmp.code === 4) this.learnPathMtu(frame.subarray(at + 8, at + len), icmp.nextHopMtu, now);
    } else if (icmp.type === Icmpv4Type.EchoReply) {
      this.echoReplies.push({ from: src, identifier: icmp.identifier, sequence: icmp.sequence, ttl, data: frame.slice(at + 8, at + len), at: now });
    }
  }

  /** Builds an IPv4 packet and hands it to ARP resolution. */
  private sendIpv4(dst: Ipv4Address, protocol: number, payload: Uint8Array, srcHint?: Ipv4Address, ttl = DEFAULT_TTL, options = NO_OPTIONS, tos = 0): boolean {
    const r = this.route(dst);
    if (r === null) {
      this.counters.droppedNoRoute++;
      return false;
    }
    this.ipId = (this.ipId + 1) & 0xffff;
    const mtu = this.mtuFor(dst);
    const src = srcHint ?? r.src;
    if (IPV4_MIN_HEADER_LEN + options.length + payload.length <= mtu) {
      this.sendPacket(r.nextHop, dst, this.buildIpv4(protocol, src, dst, payload, true, false, 0, ttl, options, tos));
      return true;
    }
    // RFC 791 §3.2: fragments carry multiples of 8 bytes; DF is clear on locally fragmented
    // datagrams (Linux with IP_PMTUDISC_WANT, the default, fragments what exceeds the MTU).
    const chunk = (mtu - IPV4_MIN_HEADER_LEN) & ~7;
    for (let off = 0; off < payload.length; off += chunk) {
      const piece = payload.subarray(off, Math.min(payload.length, off + chunk));
      const more = off + piece.length < payload.length;
      this.sendPacket(r.nextHop, dst, this.buildIpv4(protocol, src, dst, piece, false, more, off / 8, ttl, NO_OPTIONS, tos));
    }
    return true;
  }

  private buildIpv4(protocol: number, src: Ipv4Address, dst: Ipv4Address, payload: Uint8Array, df: boolean, more: boolean, offset8: number,
    ttl: number, options: Uint8Array, tos: number): Uint8Array {
    const packet = new Uint8Array(IPV4_MIN_HEADER_LEN + options.length + payload.length);
    emitIpv4({
      tos, identification: this.ipId, dontFragment: df, moreFragments: more, fragmentOffset: offset8, ttl,
      protocol, src, dst, options, payload,
    }, packet);
    return packet;
  }

  private sendPacket(nextHop: Ipv4Address, dst: Ipv4Address, packet: Uint8Array): void {
    if (isMulticast(dst)) {
      this.sendFrame(multicastMac(dst, this.mcastMac), EtherType.IPv4, packet);
      return;
    }
    // RFC 1122 §3.3.6: broadcasts go to the link broadcast address, never through ARP.
    if (this.isBroadcast(dst)) {
      this.sendFrame(BROADCAST_MAC, EtherType.IPv4, packet);
      return;
    }
    const mac = this.arp.resolve(nextHop, packet, this.now);
    if (mac !== null) this.sendFrame(mac, EtherType.IPv4, packet);
  }

  private sendArp(op: number, ethDst: MacAddress, targetMac: MacAddress, targetIp: Ipv4Address, senderIp?: Ipv4Address): void {
    const src = senderIp ?? this.route(targetIp)?.src ?? this.addresses[0]?.address;
    if (src === undefined) return;
    const body = new Uint8Array(ARP_LEN);
    emitArp({ operation: op, senderMac: this.mac, senderIp: src, targetMac, targetIp }, body);
    this.sendFrame(ethDst, EtherType.ARP, body);
  }

  private sendFrame(dst: MacAddress, etherType: number, payload: Uint8Array): void {
    if (this.link === null) return;
    // Ethernet's 60-byte minimum (IEEE 802.3 §4.2.3.3): pad short frames with zeros.
    const frame = new Uint8Array(Math.max(60, ETHERNET_HEADER_LEN + payload.length));
    frame.set(dst.subarray(0, 6), 0);
    frame.set(this.mac, 6);
    frame[12] = etherType >>> 8;
    frame[13] = etherType & 0xff;
    frame.set(payload, ETHERNET_HEADER_LEN);
    this.counters.framesOut++;
    this.counters.bytesOut += frame.length;
    this.link.transmit(frame);
  }
}

function sameMac(frame: Uint8Array, at: number, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (frame[at + i] !== mac[i]) return false;
  return true;
}
