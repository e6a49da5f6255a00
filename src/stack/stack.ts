// The protocol engine: interfaces (loopback plus Ethernet ones, each with several IPv4
// and IPv6 addresses), ARP with Linux's NUD states, routing for both families, IPv4
// input and output (fragmentation, reassembly, path MTU, ICMP), UDP delivery for IPv4
// and IPv6 sockets, IGMP; the IPv6 layer (ipv6.ts) and neighbour discovery (ndp.ts) hang
// off it. Driven only by receive(frame, now) and poll(now); it reads no clock, sets no
// timer and does no I/O of its own (DESIGN.md, "stack").

import type { Link } from '../link/link.js';
import type { SeededRng } from '../rng.js';
import { NeighborCache, type NeighborParams } from './neighbor-cache.js';
import { RouteTable, Ipv6RouteTable, prefixMask } from './route-table.js';
import { Ipv4Reassembler, type ReassemblyLimits } from './reassembly.js';
import { IcmpRateLimiter, type IcmpRateLimits } from './icmp-rate-limit.js';
import { ALL_HOSTS, ALL_ROUTERS, IgmpHost, IGMPV3_ROUTERS, isMulticast, multicastMac } from './igmp.js';
import { MldHost } from './mld.js';
import { NetInterface, type Ipv4InterfaceAddress, type Ipv6InterfaceAddress } from './interface.js';
import { Ipv6Layer } from './ipv6.js';
import { TcpLayer } from './tcp/tcp-layer.js';
import { emitIgmp, igmpQueryVersion, igmpReprLength, parseIgmp, type IgmpRepr } from '../wire/igmp.js';
import { ParseError, ParseErrorKind } from '../wire/error.js';
import { EthernetFrame, EtherType, ETHERNET_HEADER_LEN } from '../wire/ethernet.js';
import { ArpOperation, ArpPacket, ARP_LEN, emitArp } from '../wire/arp.js';
import { Ipv4Packet, IpProtocol, IPV4_MIN_HEADER_LEN, emitIpv4 } from '../wire/ipv4.js';
import { Icmpv4Packet, Icmpv4Type, ICMPV4_HEADER_LEN, emitIcmpv4 } from '../wire/icmpv4.js';
import { IPV4_BROADCAST, type Ipv4Address, type Ipv6Address, type MacAddress } from '../wire/address.js';
import { UdpPacket, UDP_HEADER_LEN, emitUdp } from '../wire/udp.js';
import { ipv4PseudoHeaderSum, finishChecksum, foldSum, sumBytes, prepareChecksumBuffer } from '../wire/checksum.js';
import { writeU16 } from '../wire/bytes.js';
import { UdpSocket, UdpTable, type Family, type IpAddress, type UdpHost } from './udp.js';
import { ErrnoError, type ErrnoName } from '../errno.js';
import { IPV6_LOOPBACK, ipv6Key } from './ipv6-address.js';

export const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const ZERO_MAC = new Uint8Array(6);
/** Linux's default TTL (net.ipv4.ip_default_ttl). */
export const DEFAULT_TTL = 64;
/** RFC 2113 IP Router Alert option, value 0. */
const ROUTER_ALERT = Uint8Array.of(0x94, 0x04, 0x00, 0x00);
const NO_OPTIONS = new Uint8Array(0);
const MAX_REMEMBERED_UNREACHABLE = 64;
/** Learned path MTUs kept at most (oldest forgotten first), so forged ICMP cannot grow memory. */
export const MAX_PMTU_ENTRIES = 4096;
/** net.ipv4.route.min_pmtu and mtu_expires. */
const MIN_PMTU = 552;
export const PMTU_EXPIRES_US = 600_000_000;
/** Loopback packets handled per drain, so a loop of local sends cannot spin forever. */
const LOOPBACK_BUDGET = 4096;
export const LOOPBACK_IFINDEX = 1;

export type { Ipv4InterfaceAddress } from './interface.js';

/** Stack-wide per-protocol counters (per-interface ones are on each NetInterface). */
export interface StackCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  droppedNotForUs: number;
  droppedMalformed: number;
  droppedNoRoute: number;
  droppedUnresolved: number;
  droppedMartian: number;
  droppedTtl: number;
  arpRequestsIn: number;
  arpRepliesOut: number;
  echoRequestsIn: number;
  echoRepliesOut: number;
  udpIn: number;
  udpOut: number;
  udpNoPort: number;
  udpBadChecksum: number;
  icmpUnreachableOut: number;
  icmpIn: number;
  icmpBadChecksum: number;
  icmp6In: number;
  icmp6Out: number;
  icmp6BadChecksum: number;
}

export interface StackOptions {
  /** Creates `eth0` (interface 2) with this MAC. */
  mac?: MacAddress;
  rng: SeededRng;
  neighbor?: Partial<NeighborParams>;
  reassembly?: Partial<ReassemblyLimits>;
  icmpRateLimits?: Partial<IcmpRateLimits>;
  /** IPv6 on Ethernet interfaces (link-local address, DAD, router solicitation); on by default as in Linux. */
  ipv6?: boolean;
}

export interface InterfaceOptions {
  name?: string;
  mac: MacAddress;
  /** Fixed MTU; otherwise the attached link's. */
  mtu?: number;
  ipv6?: boolean;
}

export interface EchoReply {
  from: IpAddress;
  identifier: number;
  sequence: number;
  ttl: number;
  data: Uint8Array;
  at: number;
}

/** Where an IPv4 packet goes: the interface, the next hop and the source address. */
export class Route4 {
  iface: NetInterface | null = null;
  nextHop: Ipv4Address = 0;
  src: Ipv4Address = 0;
}

export class Stack implements UdpHost {
  /** Interfaces by index; index 1 is `lo`. */
  readonly interfaces: NetInterface[] = [];
  readonly lo: NetInterface;
  /** Gateway and extra on-link routes; connected subnets come from interface addresses. */
  readonly routes = new RouteTable();
  readonly routes6 = new Ipv6RouteTable();
  readonly counters: StackCounters = {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, droppedNotForUs: 0, droppedMalformed: 0, droppedNoRoute: 0, droppedUnresolved: 0,
    droppedMartian: 0, droppedTtl: 0,
    arpRequestsIn: 0, arpRepliesOut: 0, echoRequestsIn: 0, echoRepliesOut: 0,
    udpIn: 0, udpOut: 0, udpNoPort: 0, udpBadChecksum: 0, icmpUnreachableOut: 0, icmpIn: 0, icmpBadChecksum: 0,
    icmp6In: 0, icmp6Out: 0, icmp6BadChecksum: 0,
  };
  readonly udp: UdpTable;
  readonly reassembly: Ipv4Reassembler;
  readonly icmpLimiter: IcmpRateLimiter;
  readonly ip6: Ipv6Layer;
  readonly tcp: TcpLayer;
  /** ICMP time exceeded (reassembly) messages sent. */
  icmpTimeExceededOut = 0;
  /** Echo replies to our own pings (both families), oldest first. */
  readonly echoReplies: EchoReply[] = [];
  /** The most recent destinations whose resolution failed (bounded), for sockets to report EHOSTUNREACH. */
  readonly unreachable: IpAddress[] = [];
  /** @internal */
  readonly rng: SeededRng;
  /** @internal */
  readonly neighborParams: Partial<NeighborParams>;
  /** @internal */
  readonly ipv6ByDefault: boolean;
  /** @internal Sockets reached by one broadcast/multicast datagram (reused). */
  readonly broadcastTargets: UdpSocket[] = [];
  private readonly mcastMac = new Uint8Array(6);
  /** Learned path MTUs by destination (Linux keeps them in the route's exceptions). */
  private readonly pathMtu = new Map<Ipv4Address, { mtu: number; expires: number }>();
  /** @internal The time of the current receive/poll/API call. */
  now = 0;
  private ipId: number;
  private readonly eth = new EthernetFrame(new Uint8Array(0));
  private readonly ip = new Ipv4Packet(new Uint8Array(0));
  private readonly icmp = new Icmpv4Packet(new Uint8Array(0));
  private readonly arpView = new ArpPacket(new Uint8Array(0));
  private readonly udpView = new UdpPacket(new Uint8Array(0));
  /** One transmit frame, reused: the link copies a frame before transmit() returns. */
  private readonly tx = new Uint8Array(ETHERNET_HEADER_LEN + 65535);
  private readonly txIp = new Ipv4Packet(this.tx, ETHERNET_HEADER_LEN);
  private readonly txRoute = new Route4();
  private readonly srcRoute = new Route4();
  /** Views of `tx` by frame length, made once each, so handing a frame to the link allocates nothing. */
  private readonly txViews: (Uint8Array | undefined)[] = [];
  /** Frames sent to ourselves, handled after the call that sent them (Linux's lo). */
  private readonly loopbackQueue: Uint8Array[] = [];
  private draining = false;

  constructor(opts: StackOptions) {
    this.rng = opts.rng;
    this.neighborParams = opts.neighbor ?? {};
    this.ipv6ByDefault = opts.ipv6 ?? true;
    this.ipId = opts.rng.int(0, 0xffff);
    prepareChecksumBuffer(this.tx);
    this.udp = new UdpTable(opts.rng.fork('udp-ports'));
    this.icmpLimiter = new IcmpRateLimiter(opts.icmpRateLimits);
    this.reassembly = new Ipv4Reassembler(opts.reassembly, (src, quoted) => {
      if (!this.icmpLimiter.allow(src, this.now)) return;
      // RFC 792: time exceeded, code 1 (fragment reassembly time exceeded).
      const msg = new Uint8Array(ICMPV4_HEADER_LEN + quoted.length);
      emitIcmpv4({ kind: 'timeExceeded', code: 1, unused: 0, original: quoted }, msg);
      this.icmpTimeExceededOut++;
      this.sendIpv4(src, IpProtocol.ICMP, msg);
    });
    this.ip6 = new Ipv6Layer(this, opts.reassembly);
    this.tcp = new TcpLayer(this);
    this.lo = this.addInterface({ name: 'lo', mac: ZERO_MAC, mtu: 65536, ipv6: false });
    this.lo.attach({ mtu: 65536, transmit: (f) => this.loopbackQueue.push(f.slice()) });
    this.lo.ipv4.push({ address: 0x7f000001, prefixLength: 8 }); // 127.0.0.1/8
    this.ip6.addAddress(this.lo, IPV6_LOOPBACK, 128, { dad: false });
    if (opts.mac) this.addInterface({ name: 'eth0', mac: opts.mac });
  }

  /** Adds an interface (`ip link add`); indexes count up from 1 (`lo`). */
  addInterface(o: InterfaceOptions): NetInterface {
    const index = this.interfaces.length + 1;
    const name = o.name ?? `eth${index - 2}`;
    if (this.interfaces.some((i) => i.name === name)) throw new ErrnoError('EEXIST', 'link add');
    const rng = this.rng.fork(`if${index}`);
    let iface!: NetInterface;
    const arp = new NeighborCache<number>(rng.fork('arp'), {
      solicit: (ip, unicastTo) => this.sendArp(iface, ArpOperation.Request, unicastTo ?? BROADCAST_MAC, unicastTo ?? ZERO_MAC, ip),
      resolved: (e) => {
        for (const p of e.queue) this.sendFrame(iface, e.mac, EtherType.IPv4, p);
      },
      failed: (ip, dropped, packets) => this.resolutionFailed(iface, ip, dropped, packets),
      queueOverflow: () => {
        this.counters.droppedUnresolved++;
        iface.counters.txDropUnresolved++;
      },
    }, this.neighborParams);
    const ndp = this.ip6.neighborCache(() => iface, rng.fork('ndp'));
    const igmp = new IgmpHost(rng.fork('igmp'), (m) => this.sendIgmp(iface, m));
    const mld = this.ip6.mldHost(() => iface, rng.fork('mld'));
    iface = new NetInterface(index, name, Uint8Array.from(o.mac), arp, ndp, igmp, mld, this, o.mtu ?? 0);
    iface.ipv6Enabled = index !== LOOPBACK_IFINDEX && (o.ipv6 ?? this.ipv6ByDefault);
    this.interfaces.push(iface);
    if (iface.ipv6Enabled) this.ip6.interfaceUp(iface);
    return iface;
  }

  /** The interface with this index or name, or null. */
  interface(which: number | string): NetInterface | null {
    if (typeof which === 'number') return this.interfaces[which - 1] ?? null;
    return this.interfaces.find((i) => i.name === which) ?? null;
  }

  hasInterface(ifindex: number): boolean {
    return this.interface(ifindex) !== null;
  }

  /** The first Ethernet interface (`eth0`), for single-interface use. */
  get primary(): NetInterface {
    const i = this.interfaces[1];
    if (i === undefined) throw new Error('the stack has no Ethernet interface; pass `mac` or call addInterface()');
    return i;
  }
  get mac(): MacAddress {
    return this.primary.mac;
  }
  get arp(): NeighborCache<number> {
    return this.primary.arp;
  }
  get igmp(): IgmpHost {
    return this.primary.igmp;
  }
  /** IPv4 addresses of every interface but lo. */
  get addresses(): Ipv4InterfaceAddress[] {
    const out: Ipv4InterfaceAddress[] = [];
    for (const i of this.interfaces) if (!i.isLoopback) out.push(...i.ipv4);
    return out;
  }

  /** Attaches a link to eth0. */
  attach(link: Link): void {
    this.primary.attach(link);
  }

  /**
   * `ip addr add`: an IPv4 address (a number) or an IPv6 address (16 bytes) on `iface`
   * (default eth0). IPv6 addresses start tentative and run duplicate address detection
   * (RFC 4862 §5.4) unless `dad: false` (Linux's nodad).
   */
  addAddress(address: IpAddress, prefixLength: number, iface: NetInterface | string | number = this.primary, opts: { dad?: boolean } = {}): void {
    const i = this.resolveInterface(iface, 'addr add');
    if (typeof address !== 'number') {
      if (address.length !== 16 || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 128) throw new RangeError(`bad IPv6 address or prefix length ${prefixLength}`);
      this.ip6.addAddress(i, address, prefixLength, opts);
      return;
    }
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) throw new RangeError(`prefix length ${prefixLength} not in 0..32`);
    if (i.hasIpv4(address)) return;
    i.ipv4.push({ address, prefixLength });
    // RFC 5227 §3 / Linux (arp_ifup... arp_send on address add): announce it with a gratuitous ARP.
    if (!i.isLoopback && i.link !== null) this.sendArp(i, ArpOperation.Request, BROADCAST_MAC, ZERO_MAC, address, address);
  }

  /**
   * `ip addr del`. Sockets bound to the address stay bound, as in Linux: IPv4 sends from
   * them fail with EINVAL, and nothing arrives for the address any more.
   */
  removeAddress(address: IpAddress, iface?: NetInterface | string | number): boolean {
    const list = iface === undefined ? this.interfaces : [this.resolveInterface(iface, 'addr del')];
    for (const i of list) {
      if (typeof address !== 'number') {
        if (this.ip6.removeAddress(i, address)) return true;
        continue;
      }
      const k = i.ipv4.findIndex((a) => a.address === address);
      if (k >= 0) {
        i.ipv4.splice(k, 1);
        return true;
      }
    }
    return false;
  }

  /** `ip neigh replace ADDR lladdr MAC nud permanent dev IFACE`: a static neighbour, IPv4 or IPv6. */
  addNeighbor(address: IpAddress, mac: MacAddress, iface: NetInterface | string | number = this.primary): void {
    const i = this.resolveInterface(iface, 'neigh add');
    if (mac.length !== 6) throw new RangeError('a MAC address is 6 bytes');
    if (typeof address === 'number') i.arp.addStatic(address, mac);
    else i.ndp.addStatic(ipv6Key(address), mac);
  }

  /** `ip neigh del`. */
  removeNeighbor(address: IpAddress, iface: NetInterface | string | number = this.primary): boolean {
    const i = this.resolveInterface(iface, 'neigh del');
    return typeof address === 'number' ? i.arp.remove(address) : i.ndp.remove(ipv6Key(address));
  }

  private resolveInterface(iface: NetInterface | string | number, what: string): NetInterface {
    const i = iface instanceof NetInterface ? iface : this.interface(iface);
    if (i === null) throw new ErrnoError('ENODEV', what);
    return i;
  }

  /** One of our IPv4 addresses, on any interface (Linux's weak host model). */
  isLocal(ip: Ipv4Address): boolean {
    const list = this.interfaces;
    for (let k = 0; k < list.length; k++) if (list[k]!.hasIpv4(ip)) return true;
    return false;
  }
  isLocal4(ip: Ipv4Address): boolean {
    return this.isLocal(ip);
  }
  isLocal6(ip: Ipv6Address): boolean {
    return this.ip6.isLocal(ip, 0);
  }

  /** RFC 919/922: limited broadcast, or the directed broadcast of one of our subnets. */
  isBroadcast(ip: Ipv4Address): boolean {
    if (ip === IPV4_BROADCAST) return true;
    const list = this.interfaces;
    for (let k = 0; k < list.length; k++) {
      const addrs = list[k]!.ipv4;
      for (let j = 0; j < addrs.length; j++) {
        const a = addrs[j]!;
        if (a.prefixLength < 31 && (ip | prefixMask(a.prefixLength)) === -1 && ((ip ^ a.address) & prefixMask(a.prefixLength)) === 0) return true;
      }
    }
    return false;
  }

  /** The connected subnet (longest prefix) holding `ip`, on `ifindex` if not 0; fills out.iface/src. */
  private connected(ip: Ipv4Address, ifindex: number, out: Route4): boolean {
    let best: Ipv4InterfaceAddress | null = null;
    const list = this.interfaces;
    for (let k = 0; k < list.length; k++) {
      const i = list[k]!;
      if (i.isLoopback || (ifindex !== 0 && i.index !== ifindex)) continue;
      for (let j = 0; j < i.ipv4.length; j++) {
        const a = i.ipv4[j]!;
        if (((ip ^ a.address) & prefixMask(a.prefixLength)) === 0 && (best === null || a.prefixLength > best.prefixLength)) {
          best = a;
          out.iface = i;
          out.src = a.address;
        }
      }
    }
    return best !== null;
  }

  private connectedPrefix(ip: Ipv4Address, ifindex: number): number {
    let len = -1;
    const list = this.interfaces;
    for (let k = 0; k < list.length; k++) {
      const i = list[k]!;
      if (i.isLoopback || (ifindex !== 0 && i.index !== ifindex)) continue;
      for (let j = 0; j < i.ipv4.length; j++) {
        const a = i.ipv4[j]!;
        if (((ip ^ a.address) & prefixMask(a.prefixLength)) === 0 && a.prefixLength > len) len = a.prefixLength;
      }
    }
    return len;
  }

  /** The first IPv4 address of an interface, or of any Ethernet interface when ifindex is 0. */
  private firstAddress(ifindex: number): Ipv4Address | undefined {
    for (const i of this.interfaces) {
      if (i.isLoopback || (ifindex !== 0 && i.index !== ifindex)) continue;
      if (i.ipv4.length) return i.ipv4[0]!.address;
    }
    return undefined;
  }

  /**
   * The next hop toward `dst`, the interface and the source address, or null without a
   * route. Local addresses go through lo; connected subnets and table routes compete by
   * prefix length, as in Linux's main table. `ifindex` (not 0) restricts the interface.
   */
  route(dst: Ipv4Address, ifindex = 0): { nextHop: Ipv4Address; src: Ipv4Address; ifindex: number } | null {
    const r = new Route4();
    return this.routeInto(dst, r, ifindex) ? { nextHop: r.nextHop, src: r.src, ifindex: r.iface!.index } : null;
  }

  /** route() without allocating: fills `out` and returns true, or returns false without a route. */
  private routeInto(dst: Ipv4Address, out: Route4, ifindex: number): boolean {
    if (ifindex === 0 && this.isLocal(dst)) {
      out.iface = this.lo;
      out.nextHop = dst;
      out.src = dst;
      return true;
    }
    if (dst >>> 24 === 127) {
      out.iface = this.lo;
      out.nextHop = dst;
      out.src = 0x7f000001;
      return true;
    }
    if (dst === IPV4_BROADCAST || isMulticast(dst)) {
      // Linux routes these by the table (a default route's device) unless an interface is given.
      let idx = ifindex;
      if (idx === 0) {
        const r = this.routes.lookup(dst);
        if (r !== null) idx = r.ifindex !== 0 ? r.ifindex : this.ifindexOfGateway(r.gateway);
      }
      if (idx !== 0 && idx === this.lo.index) {
        // Given lo (IP_MULTICAST_IF 127.0.0.1, a socket bound there): it carries them too.
        out.iface = this.lo;
        out.nextHop = dst;
        out.src = 0x7f000001;
        return true;
      }
      const src = this.firstAddress(idx);
      if (src === undefined) return false;
      out.iface = this.interfaceOf4(src);
      out.nextHop = dst;
      out.src = src;
      return true;
    }
    const direct = this.connectedPrefix(dst, ifindex);
    const r = this.routes.lookup(dst);
    if (direct >= 0 && (r === null || direct >= r.prefixLength || (ifindex !== 0 && r.ifindex !== 0 && r.ifindex !== ifindex))) {
      this.connected(dst, ifindex, out);
      out.nextHop = dst;
      return true;
    }
    if (r === null || (ifindex !== 0 && r.ifindex !== 0 && r.ifindex !== ifindex)) return false;
    if (r.gateway === null) {
      const idx = r.ifindex || ifindex;
      const src = r.source ?? this.firstAddress(idx);
      if (src === undefined) return false;
      out.iface = idx !== 0 ? this.interface(idx) : this.interfaceOf4(src);
      if (out.iface === null) return false;
      out.nextHop = dst;
      out.src = src;
      return true;
    }
    // The gateway must be on a connected subnet (Linux: "Nexthop has invalid gateway").
    if (!this.connected(r.gateway, r.ifindex || ifindex, out)) return false;
    out.nextHop = r.gateway;
    if (r.source !== null) out.src = r.source;
    return true;
  }

  private ifindexOfGateway(gw: Ipv4Address | null): number {
    if (gw === null) return 0;
    const r = new Route4();
    return this.connected(gw, 0, r) ? r.iface!.index : 0;
  }

  private interfaceOf4(src: Ipv4Address): NetInterface {
    for (const i of this.interfaces) if (i.hasIpv4(src)) return i;
    return this.primary;
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

  /** A frame from eth0 (single-interface use). */
  receive(frame: Uint8Array, now: number): void {
    this.receiveOn(this.primary, frame, now);
  }

  /** A frame arrived on `iface`. */
  receiveOn(iface: NetInterface, frame: Uint8Array, now: number): void {
    this.now = now;
    const c = iface.counters;
    this.counters.framesIn++;
    this.counters.bytesIn += frame.length;
    c.rxFrames++;
    c.rxBytes += frame.length;
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.dropMalformed(iface);
      return;
    }
    const eth = this.eth.reset(frame, 0);
    // Accept frames to our MAC, broadcast, and multicast MACs (the IP layer checks the group).
    if (!iface.isLoopback && !sameMac(frame, 0, iface.mac) && !sameMac(frame, 0, BROADCAST_MAC) && (frame[0]! & 1) === 0) {
      this.dropNotForUs(iface);
      return;
    }
    if (eth.tagCount !== 0) {
      this.dropNotForUs(iface); // no VLAN sub-interfaces yet
      return;
    }
    const type = eth.etherType;
    if (type === EtherType.IPv4) this.receiveIpv4(iface, frame, ETHERNET_HEADER_LEN, now);
    else if (type === EtherType.IPv6) this.ip6.receive(iface, frame, ETHERNET_HEADER_LEN, now);
    else if (type === EtherType.ARP) this.receiveArp(iface, frame, ETHERNET_HEADER_LEN, now);
    else this.dropNotForUs(iface);
    if (this.loopbackQueue.length !== 0) this.drainLoopback();
  }

  /** @internal Drop accounting: one reason per dropped frame, per interface and stack-wide. */
  dropMalformed(iface: NetInterface): void {
    iface.counters.dropMalformed++;
    this.counters.droppedMalformed++;
  }
  /** @internal */
  dropNotForUs(iface: NetInterface): void {
    iface.counters.dropNotForUs++;
    this.counters.droppedNotForUs++;
  }
  /** @internal */
  dropMartian(iface: NetInterface): void {
    iface.counters.dropMartian++;
    this.counters.droppedMartian++;
  }
  /** @internal */
  dropTtl(iface: NetInterface): void {
    iface.counters.dropTtl++;
    this.counters.droppedTtl++;
  }

  joinGroup(group: Ipv4Address, ifindex = 0): void {
    const i = this.interface(ifindex || this.multicastInterface(4, group, undefined));
    if (i) i.igmp.join(group, this.now);
  }
  leaveGroup(group: Ipv4Address, ifindex = 0): void {
    const i = this.interface(ifindex || this.multicastInterface(4, group, undefined));
    if (i) i.igmp.leave(group, this.now);
  }

  /** @internal UdpHost: the interface a membership goes on. */
  multicastInterface(family: Family, group: IpAddress, hint: number | Ipv4Address | undefined): number {
    if (hint !== undefined && hint !== 0) {
      if (family === 4 && (hint > 0xffff || hint < 0)) {
        // An interface address (IP_ADD_MEMBERSHIP's imr_interface).
        for (const i of this.interfaces) if (i.hasIpv4(hint)) return i.index;
        return 0;
      }
      return this.hasInterface(hint) ? hint : 0;
    }
    if (family === 4) {
      const r = this.route(group as number);
      return r ? r.ifindex : 0;
    }
    return this.ip6.defaultMulticastInterface(group as Ipv6Address);
  }

  /** @internal UdpHost: a socket's filter changed; the interface's membership follows (RFC 3376 §3.2). */
  setMulticastFilter(family: Family, ifindex: number, group: IpAddress, socketId: number, mode: 'include' | 'exclude', sources: IpAddress[]): void {
    const i = this.interface(ifindex);
    if (i === null) return;
    if (family === 4) i.igmp.setFilter(socketId, group as number, mode, sources as number[], this.now);
    else i.mld.setFilter(socketId, group as Ipv6Address, mode, sources as Ipv6Address[], this.now);
  }

  poll(now: number): number {
    this.now = now;
    if (this.loopbackQueue.length !== 0) this.drainLoopback();
    let next = Math.min(this.reassembly.poll(now), this.ip6.poll(now), this.tcp.poll(now));
    for (const i of this.interfaces) {
      if (i.isLoopback) continue;
      next = Math.min(next, i.arp.poll(now), i.igmp.poll(now));
    }
    if (this.loopbackQueue.length !== 0) {
      this.drainLoopback();
      next = now;
    }
    return next;
  }

  /** Handles frames sent to ourselves, in order, within a budget. */
  private drainLoopback(): void {
    if (this.draining) return;
    this.draining = true;
    let budget = LOOPBACK_BUDGET;
    while (this.loopbackQueue.length !== 0 && budget-- > 0) {
      const f = this.loopbackQueue.shift()!;
      this.receiveOn(this.lo, f, this.now);
    }
    this.draining = false;
  }

  /** A new UDP socket on this stack: family 4 (AF_INET) or 6 (AF_INET6, dual-stack unless v6Only). */
  udpSocket(family: Family = 4): UdpSocket {
    return new UdpSocket(this, family);
  }

  /** The source address for packets to `dst` (RFC 1122 §3.3.4.3), or null without a route. */
  sourceFor(dst: Ipv4Address): Ipv4Address | null {
    return this.sourceFor4(dst, 0);
  }
  sourceFor4(dst: Ipv4Address, ifindex: number): Ipv4Address | null {
    const r = this.srcRoute;
    return this.routeInto(dst, r, ifindex) ? r.src : null;
  }
  sourceFor6(dst: Ipv6Address, ifindex: number): Ipv6Address | null {
    return this.ip6.sourceFor(dst, ifindex);
  }

  /** @internal Used by UdpSocket. */
  sendUdp4(src: Ipv4Address, srcPort: number, dst: Ipv4Address, dstPort: number, data: Uint8Array, from: UdpSocket): boolean {
    let ifindex = isMulticast(dst) ? from.multicastIfindex || from.boundIfindex : from.boundIfindex;
    // As the route lookup in UdpSocket.route4: a multicast or limited broadcast with no interface goes out of its source's.
    if (ifindex === 0 && (isMulticast(dst) || dst === IPV4_BROADCAST)) ifindex = this.multicastInterface(4, dst, src);
    const ttl = isMulticast(dst) ? from.multicastTtl : from.unicastTtl >= 0 ? from.unicastTtl : DEFAULT_TTL;
    let ok: boolean;
    if (!isMulticast(dst) && !this.isBroadcast(dst) && this.sendUdpInPlace(src, srcPort, dst, dstPort, data, ifindex, ttl)) ok = true;
    else {
      const seg = new Uint8Array(UDP_HEADER_LEN + data.length);
      emitUdp({ srcPort, dstPort, payload: data }, seg, 0, { version: 4, src, dst });
      this.counters.udpOut++;
      if (isMulticast(dst) && from.multicastLoop) this.loopMulticast4(seg, src, dst, ifindex);
      ok = this.sendIpv4(dst, IpProtocol.UDP, seg, src, ttl, NO_OPTIONS, 0, ifindex);
    }
    if (this.loopbackQueue.length !== 0) this.drainLoopback();
    return ok;
  }

  /** @internal */
  sendUdp6(src: Ipv6Address, srcPort: number, dst: Ipv6Address, dstPort: number, data: Uint8Array, from: UdpSocket, ifindex: number): boolean {
    const ok = this.ip6.sendUdp(src, srcPort, dst, dstPort, data, from, ifindex);
    if (this.loopbackQueue.length !== 0) this.drainLoopback();
    return ok;
  }

  /**
   * IP_MULTICAST_LOOP: a copy of a multicast we send goes up our own stack as if it came
   * back from the wire (Linux's ip_mc_output → dev_loopback_xmit), when the interface is
   * a member of the group.
   */
  private loopMulticast4(seg: Uint8Array, src: Ipv4Address, dst: Ipv4Address, ifindex: number): void {
    const r = this.txRoute;
    if (!this.routeInto(dst, r, ifindex) || r.iface === null) return;
    // Sent on lo, the datagram itself comes back: no second copy.
    if (r.iface === this.lo || !r.iface.igmp.isMember(dst)) return;
    const packet = new Uint8Array(IPV4_MIN_HEADER_LEN + seg.length);
    emitIpv4({ tos: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 1, protocol: IpProtocol.UDP, src, dst, options: NO_OPTIONS, payload: seg }, packet);
    this.deliverUdp4(r.iface, packet, 0, IPV4_MIN_HEADER_LEN, seg.length, src, dst);
  }

  /**
   * The hot path for a unicast datagram that fits the path MTU to a resolved neighbour:
   * headers are written around the payload in one reused frame, no allocation. Returns
   * false (having sent nothing) when the general path must handle it.
   */
  private sendUdpInPlace(src: Ipv4Address, srcPort: number, dst: Ipv4Address, dstPort: number, data: Uint8Array, ifindex: number, ttl: number): boolean {
    const ulen = UDP_HEADER_LEN + data.length;
    const udpAt = this.beginIpv4InPlace(dst, ifindex, ulen);
    if (udpAt < 0) return false;
    const tx = this.tx;
    tx.set(data, udpAt + UDP_HEADER_LEN);
    writeU16(tx, udpAt, srcPort);
    writeU16(tx, udpAt + 2, dstPort);
    writeU16(tx, udpAt + 4, ulen);
    tx[udpAt + 6] = 0;
    tx[udpAt + 7] = 0;
    const c = finishChecksum(sumBytes(tx, udpAt, ulen, ipv4PseudoHeaderSum(src, dst, IpProtocol.UDP, ulen)));
    writeU16(tx, udpAt + 6, c === 0 ? 0xffff : c); // RFC 768: a computed zero is sent as all ones
    this.counters.udpOut++;
    this.finishIpv4InPlace(IpProtocol.UDP, src, dst, ulen, ttl);
    return true;
  }

  /**
   * @internal The allocation-free transmit path for a unicast packet that fits the path MTU
   * to a resolved neighbour over a real link, or to ourselves through lo (whose link copies
   * the frame into the loopback queue): returns where the transport header goes in
   * `txBuffer` (then call finishIpv4InPlace), or −1 when the general path (fragmentation,
   * neighbour resolution) must take it, having sent nothing.
   */
  beginIpv4InPlace(dst: Ipv4Address, ifindex: number, payloadLength: number): number {
    const r = this.txRoute;
    if (!this.routeInto(dst, r, ifindex)) return -1;
    const iface = r.iface!;
    if (iface.link === null) return -1;
    if (IPV4_MIN_HEADER_LEN + payloadLength > this.mtuFor(dst, this.now, iface)) return -1;
    if (iface.isLoopback) {
      this.txMac = ZERO_MAC; // as sendPacket frames for lo
      return ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN;
    }
    const mac = iface.arp.lookup(r.nextHop, this.now);
    if (mac === null) return -1;
    this.txMac = mac;
    return ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN;
  }

  /** @internal The transmit frame beginIpv4InPlace hands out. */
  get txBuffer(): Uint8Array {
    return this.tx;
  }

  /** @internal Writes the IPv4 and Ethernet headers around a payload placed by beginIpv4InPlace, and transmits. */
  finishIpv4InPlace(protocol: number, src: Ipv4Address, dst: Ipv4Address, payloadLength: number, ttl = DEFAULT_TTL): void {
    const tx = this.tx;
    const iface = this.txRoute.iface!;
    const total = IPV4_MIN_HEADER_LEN + payloadLength;
    this.ipId = (this.ipId + 1) & 0xffff;
    const ip = this.txIp;
    tx[ETHERNET_HEADER_LEN] = 0x45;
    ip.tos = 0;
    ip.totalLength = total;
    ip.identification = this.ipId;
    ip.flagsAndOffset = 0x4000; // DF (Linux's IP_PMTUDISC_WANT on a packet that fits)
    ip.ttl = ttl;
    ip.protocol = protocol;
    ip.src = src;
    ip.dst = dst;
    ip.fillChecksum();
    tx.set(this.txMac, 0);
    tx.set(iface.mac, 6);
    tx[12] = EtherType.IPv4 >>> 8;
    tx[13] = EtherType.IPv4 & 0xff;
    const len = ETHERNET_HEADER_LEN + total;
    if (len < 60) tx.fill(0, len, 60); // IEEE 802.3 minimum frame
    const n = Math.max(60, len);
    this.counters.framesOut++;
    this.counters.bytesOut += n;
    iface.counters.txFrames++;
    iface.counters.txBytes += n;
    let view = this.txViews[n];
    if (view === undefined) this.txViews[n] = view = tx.subarray(0, n);
    iface.link!.transmit(view);
  }
  private txMac: Uint8Array = new Uint8Array(6);

  /** Sends an ICMP echo request (what `ping` does), IPv4 or IPv6. Returns false without a route. */
  ping(dst: IpAddress, identifier: number, sequence: number, data: Uint8Array, now: number, ifindex = 0): boolean {
    this.now = now;
    let ok: boolean;
    if (typeof dst !== 'number') ok = this.ip6.ping(dst, identifier, sequence, data, ifindex);
    else {
      const msg = new Uint8Array(ICMPV4_HEADER_LEN + data.length);
      emitIcmpv4({ kind: 'echoRequest', code: 0, identifier, sequence, data }, msg);
      ok = this.sendIpv4(dst, IpProtocol.ICMP, msg, undefined, DEFAULT_TTL, NO_OPTIONS, 0, ifindex);
    }
    if (this.loopbackQueue.length !== 0) this.drainLoopback();
    return ok;
  }

  private receiveArp(iface: NetInterface, frame: Uint8Array, at: number, now: number): void {
    if (frame.length - at < ARP_LEN) {
      this.dropMalformed(iface);
      return;
    }
    const a = this.arpView.reset(frame, at);
    if (a.hardwareType !== 1 || a.protocolType !== 0x0800 || a.hardwareLength !== 6 || a.protocolLength !== 4) {
      this.dropMalformed(iface);
      return;
    }
    const senderMac = frame.subarray(at + 8, at + 14);
    const sender = a.senderIp, target = a.targetIp;
    // Linux (arp_process): a sender that is multicast, or our own address answered from
    // another MAC, is ignored (the latter is an address conflict, RFC 5227 §2.4).
    if (isMulticast(sender) || sender === IPV4_BROADCAST || (senderMac[0]! & 1) !== 0) {
      this.dropMartian(iface);
      return;
    }
    const forUs = iface.hasIpv4(target);
    if (iface.hasIpv4(sender)) {
      this.dropMartian(iface);
      return;
    }
    // RFC 826 "merge" step: update an existing entry; create one only if the packet is for us.
    if (sender !== 0) iface.arp.learn(sender, senderMac, now, a.operation === ArpOperation.Reply && forUs, forUs);
    if (a.operation === ArpOperation.Request && forUs) {
      this.counters.arpRequestsIn++;
      this.counters.arpRepliesOut++;
      this.sendArp(iface, ArpOperation.Reply, Uint8Array.from(senderMac), Uint8Array.from(senderMac), sender, target);
    }
  }

  /**
   * Linux's martian source check (ip_route_input_slow, fib_validate_source): multicast,
   * limited broadcast, 0.0.0.0 (except to the limited broadcast, as DHCP does), loopback
   * from outside, and our own addresses from outside are dropped.
   */
  private martianSource4(iface: NetInterface, src: Ipv4Address, dst: Ipv4Address): boolean {
    if (isMulticast(src) || src === IPV4_BROADCAST) return true;
    if (src === 0) return dst !== IPV4_BROADCAST;
    if (iface.isLoopback) return false;
    if (src >>> 24 === 127) return true;
    return this.isLocal(src) || this.isBroadcast(src);
  }

  private receiveIpv4(iface: NetInterface, frame: Uint8Array, at: number, now: number): void {
    const ip = this.ip.reset(frame, at);
    const bad = ip.check(frame.length - at, !iface.rxChecksumVerified);
    if (bad !== 0) {
      if (bad === ParseErrorKind.Checksum) {
        iface.counters.dropChecksum++;
        this.counters.droppedMalformed++;
      } else this.dropMalformed(iface);
      return;
    }
    const dst = ip.dst, src = ip.src;
    const multicast = isMulticast(dst);
    if (!this.isLocal(dst) && !this.isBroadcast(dst) && !(multicast && iface.igmp.isMember(dst))) {
      this.dropNotForUs(iface); // no forwarding: we are a host (RFC 1122 §3.3.1)
      return;
    }
    if (this.martianSource4(iface, src, dst)) {
      this.dropMartian(iface);
      return;
    }
    // RFC 791 §3.1 option format (Linux's ip_options_compile, on every datagram with options it
    // keeps): an option whose length is below 2 or runs past the header is a parameter problem
    // (RFC 1122 §3.2.2.5 SHOULD send one, pointing at the option), and the datagram is dropped.
    if (ip.headerLength > IPV4_MIN_HEADER_LEN) {
      const bad = badIpv4Option(frame, at, ip.headerLength);
      if (bad >= 0) {
        this.dropMalformed(iface);
        if (this.isLocal(dst) && !ip.isFragment) this.sendIcmpError4(frame, at, src, dst, 'parameterProblem', 0, bad);
        return;
      }
    }
    // No TTL check: RFC 1122 §3.2.1.7, "a host MUST NOT discard a datagram just because it
    // was received with TTL less than 2" (Linux checks TTL only when forwarding, ip_forward).
    // RFC 3376 §3.2: the interface's source filter for the group.
    if (multicast && dst !== ALL_HOSTS && !iface.igmp.accepts(dst, src)) {
      iface.counters.dropSourceFiltered++;
      return;
    }
    if (ip.isFragment) {
      const hl = ip.headerLength;
      const before = this.reassembly.counters.overlaps + this.reassembly.counters.malformed + this.reassembly.counters.evicted;
      const whole = this.reassembly.add(src, dst, ip.protocol, ip.identification, ip.fragmentOffsetBytes, ip.moreFragments,
        frame.subarray(at + hl, at + ip.totalLength), frame.subarray(at, at + hl + Math.min(8, ip.payloadLength)), now);
      const after = this.reassembly.counters.overlaps + this.reassembly.counters.malformed + this.reassembly.counters.evicted;
      if (after !== before) iface.counters.dropReassembly++;
      if (whole !== null) this.receiveIpv4(iface, whole, 0, now);
      return;
    }
    const proto = ip.protocol;
    if (proto === IpProtocol.TCP) {
      // TCP is unicast only (RFC 1122 §4.2.3.10: no broadcast or multicast destinations).
      if (multicast || !this.isLocal(dst)) this.dropNotForUs(iface);
      else this.tcp.receive4(iface, frame, ip.payloadOffset, ip.payloadLength, src, dst);
    } else if (proto === IpProtocol.UDP) this.receiveUdp(iface, frame, at, ip.payloadOffset, ip.payloadLength, src, dst);
    else if (proto === IpProtocol.ICMP) this.receiveIcmp(iface, frame, ip.payloadOffset, ip.payloadLength, src, dst, ip.ttl, now);
    else if (proto === IpProtocol.IGMP) this.receiveIgmp(iface, frame, ip.payloadOffset, ip.payloadLength, now);
    else {
      iface.counters.dropUnknownProtocol++;
      // RFC 1122 §3.2.2.1: protocol unreachable, to unicast only.
      if (this.isLocal(dst)) this.sendIcmpError4(frame, at, src, dst, 'destinationUnreachable', 2);
    }
  }

  private receiveIgmp(iface: NetInterface, frame: Uint8Array, at: number, len: number, now: number): void {
    const m = parseIgmp(frame, at, len);
    if (m instanceof ParseError) {
      this.dropMalformed(iface);
      return;
    }
    // RFC 3376 §7.1: the query's length and Max Resp Code tell its version.
    if (m.kind === 'queryV3') iface.igmp.query(3, m.group, m.maxRespCode, now, m.sources);
    else if (m.kind === 'query') iface.igmp.query(igmpQueryVersion(m) as 1 | 2 | 3, m.group, m.maxRespCode, now);
  }

  private receiveUdp(iface: NetInterface, frame: Uint8Array, ipAt: number, at: number, len: number, src: Ipv4Address, dst: Ipv4Address): void {
    const u = this.udpView.reset(frame, at);
    if (len < UDP_HEADER_LEN || u.length < UDP_HEADER_LEN || u.length > len) {
      this.dropMalformed(iface);
      return;
    }
    // RFC 768: a zero checksum means none was computed.
    if (u.checksum !== 0 && !iface.rxChecksumVerified && foldSum(sumBytes(frame, at, u.length, ipv4PseudoHeaderSum(src, dst, IpProtocol.UDP, u.length))) !== 0xffff) {
      this.counters.udpBadChecksum++;
      iface.counters.dropChecksum++;
      return;
    }
    this.deliverUdp4(iface, frame, ipAt, at, u.length, src, dst);
  }

  /** Hands a checked UDP datagram (header at `at`, `ulen` bytes) to its socket(s). */
  private deliverUdp4(iface: NetInterface, frame: Uint8Array, ipAt: number, at: number, ulen: number, src: Ipv4Address, dst: Ipv4Address): void {
    this.counters.udpIn++;
    const sport = (frame[at]! << 8) | frame[at + 1]!, dport = (frame[at + 2]! << 8) | frame[at + 3]!;
    const plen = ulen - UDP_HEADER_LEN;
    if (isMulticast(dst) || this.isBroadcast(dst)) {
      // A broadcast or multicast reaches every matching socket, each with its own copy;
      // membership is the host's (IP_MULTICAST_ALL), a socket's own filter still applies.
      const targets = this.broadcastTargets;
      const n = this.udp.lookupAll4(dst, dport, src, sport, iface.index, targets);
      let delivered = 0;
      for (let i = 0; i < n; i++) {
        const s = targets[i]!;
        if (isMulticast(dst) && !s.allowsMulticast4(iface.index, dst, src)) continue;
        s.deliver4(frame, at + UDP_HEADER_LEN, plen, src, sport, iface.index);
        delivered++;
      }
      if (delivered === 0) this.counters.udpNoPort++;
      return;
    }
    const sock = this.udp.lookup4(dst, dport, src, sport, iface.index);
    if (sock === null) {
      this.counters.udpNoPort++;
      // RFC 1122 §3.2.2.1 / §4.1.3.1: port unreachable, never for broadcasts.
      this.sendIcmpError4(frame, ipAt, src, dst, 'destinationUnreachable', 3);
      return;
    }
    sock.deliver4(frame, at + UDP_HEADER_LEN, plen, src, sport, iface.index);
  }

  /** An ICMP error about the packet at `ipAt`, quoting its header and the start of its data (RFC 792, RFC 1812 §4.3.2.3). */
  private sendIcmpError4(frame: Uint8Array, ipAt: number, src: Ipv4Address, dst: Ipv4Address, kind: 'destinationUnreachable' | 'parameterProblem', code: number, pointer = 0): void {
    if (!this.icmpLimiter.allow(src, this.now)) return;
    const ip = this.ip.reset(frame, ipAt);
    // Linux quotes as much as fits in 576 bytes.
    const quoted = frame.slice(ipAt, ipAt + Math.min(ip.totalLength, 576 - IPV4_MIN_HEADER_LEN - ICMPV4_HEADER_LEN));
    const msg = new Uint8Array(ICMPV4_HEADER_LEN + quoted.length);
    if (kind === 'parameterProblem') emitIcmpv4({ kind, code, pointer, unused: 0, original: quoted }, msg);
    else {
      emitIcmpv4({ kind, code, unused: 0, nextHopMtu: 0, original: quoted }, msg);
      this.counters.icmpUnreachableOut++;
    }
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
    const linkMtu = this.interfaceOf4(q.src).mtu;
    const clamped = Math.max(MIN_PMTU, Math.min(mtu, linkMtu));
    if (clamped >= linkMtu) return;
    if (!this.pathMtu.has(q.dst) && this.pathMtu.size >= MAX_PMTU_ENTRIES) this.pathMtu.delete(this.pathMtu.keys().next().value as Ipv4Address);
    this.pathMtu.set(q.dst, { mtu: clamped, expires: now + PMTU_EXPIRES_US });
  }

  /**
   * Fragmentation needed (RFC 1191 §6.1). Quoting TCP, it is believed only for a live
   * connection with the quoted sequence number in its window (RFC 5927 §4.1, Linux
   * tcp_v4_err), and that connection's segments shrink at once (RFC 1191 §6.4).
   */
  private fragmentationNeeded(original: Uint8Array, mtu: number, now: number): void {
    if (original.length < IPV4_MIN_HEADER_LEN) return;
    const q = new Ipv4Packet(original);
    if (q.protocol !== IpProtocol.TCP) {
      this.learnPathMtu(original, mtu, now);
      return;
    }
    const hl = q.headerLength;
    if (hl < IPV4_MIN_HEADER_LEN || original.length < hl + 8) return; // RFC 792: the quote has 8 bytes of the segment
    const sport = (original[hl]! << 8) | original[hl + 1]!, dport = (original[hl + 2]! << 8) | original[hl + 3]!;
    const seq = ((original[hl + 4]! << 24) | (original[hl + 5]! << 16) | (original[hl + 6]! << 8) | original[hl + 7]!) | 0;
    const c = this.tcp.icmpTarget4(q.src, sport, q.dst, dport, seq);
    if (c === null) return;
    this.learnPathMtu(original, mtu, now);
    this.tcp.pathMtuChanged4(c);
  }

  /** The MTU toward `dst`: a learned path MTU while it lasts, else the outgoing interface's. */
  mtuFor(dst: Ipv4Address, now = this.now, iface?: NetInterface): number {
    let linkMtu: number;
    if (iface !== undefined) linkMtu = iface.mtu;
    else {
      const r = new Route4();
      linkMtu = this.routeInto(dst, r, 0) && r.iface ? r.iface.mtu : 1500;
    }
    if (this.pathMtu.size === 0) return linkMtu;
    const p = this.pathMtu.get(dst);
    if (p === undefined) return linkMtu;
    if (p.expires <= now) {
      this.pathMtu.delete(dst);
      return linkMtu;
    }
    return Math.min(p.mtu, linkMtu);
  }

  /**
   * An ICMP error quoting one of our UDP datagrams (Linux's __udp4_lib_err): a hard error
   * (port or protocol unreachable) reaches a connected socket; with IP_RECVERR every error
   * reaches the socket, connected or not.
   */
  private icmpErrorToUdp(original: Uint8Array, errno: ErrnoName, hard: boolean): void {
    if (original.length < IPV4_MIN_HEADER_LEN + 8) return;
    const q = new Ipv4Packet(original);
    if (q.protocol !== IpProtocol.UDP || q.headerLength > original.length - 8) return;
    const u = new UdpPacket(original, q.headerLength);
    // The interface holding our source address is the one the datagram left by.
    const sock = this.udp.lookup4(q.src, u.srcPort, q.dst, u.dstPort, this.interfaceOf4(q.src).index);
    if (sock === null) return;
    if (sock.recvErr || (hard && sock.connected && sock.remoteFamily === 4 && sock.remote4 === q.dst && sock.remotePort === u.dstPort)) {
      sock.setError(new ErrnoError(errno, 'recvfrom'));
    }
  }

  private receiveIcmp(iface: NetInterface, frame: Uint8Array, at: number, len: number, src: Ipv4Address, dst: Ipv4Address, ttl: number, now: number): void {
    const icmp = this.icmp.reset(frame, at, len);
    if (len < ICMPV4_HEADER_LEN) {
      this.dropMalformed(iface);
      return;
    }
    if (!icmp.verifyChecksum()) {
      this.counters.icmpBadChecksum++;
      this.counters.droppedMalformed++;
      iface.counters.dropChecksum++;
      return;
    }
    this.counters.icmpIn++;
    const type = icmp.type;
    if (type === Icmpv4Type.EchoRequest) {
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
    } else if (type === Icmpv4Type.DestinationUnreachable) {
      const original = frame.subarray(at + 8, at + len);
      // Linux's icmp_err_convert: protocol and port unreachable are hard errors; net/host soft.
      const code = icmp.code;
      if (code === 4) this.fragmentationNeeded(original, icmp.nextHopMtu, now);
      else if (code === 3) this.icmpErrorToUdp(original, 'ECONNREFUSED', true);
      else if (code === 2) this.icmpErrorToUdp(original, 'ENOPROTOOPT', true);
      else if (code === 0 || code === 6) this.icmpErrorToUdp(original, 'ENETUNREACH', false);
      else if (code === 1 || code === 7) this.icmpErrorToUdp(original, 'EHOSTUNREACH', false);
      else if (code === 9 || code === 10 || code === 13) this.icmpErrorToUdp(original, 'EACCES', true);
    } else if (type === Icmpv4Type.TimeExceeded) {
      this.icmpErrorToUdp(frame.subarray(at + 8, at + len), 'EHOSTUNREACH', false);
    } else if (type === Icmpv4Type.EchoReply) {
      this.echoReplies.push({ from: src, identifier: icmp.identifier, sequence: icmp.sequence, ttl, data: frame.slice(at + 8, at + len), at: now });
    }
  }

  /** @internal Builds an IPv4 packet and hands it to ARP resolution (fragmenting beyond the path MTU). */
  sendIpv4(dst: Ipv4Address, protocol: number, payload: Uint8Array, srcHint?: Ipv4Address, ttl = DEFAULT_TTL, options = NO_OPTIONS, tos = 0, ifindex = 0): boolean {
    const r = new Route4();
    if (!this.routeInto(dst, r, ifindex)) {
      this.counters.droppedNoRoute++;
      return false;
    }
    const iface = r.iface!;
    this.ipId = (this.ipId + 1) & 0xffff;
    const mtu = this.mtuFor(dst, this.now, iface);
    const src = srcHint ?? r.src;
    if (IPV4_MIN_HEADER_LEN + options.length + payload.length <= mtu) {
      this.sendPacket(iface, r.nextHop, dst, this.buildIpv4(protocol, src, dst, payload, true, false, 0, ttl, options, tos));
      return true;
    }
    // RFC 791 §3.2: fragments carry multiples of 8 bytes; DF is clear on locally fragmented
    // datagrams (Linux with IP_PMTUDISC_WANT, the default, fragments what exceeds the MTU).
    const chunk = (mtu - IPV4_MIN_HEADER_LEN) & ~7;
    for (let off = 0; off < payload.length; off += chunk) {
      const piece = payload.subarray(off, Math.min(payload.length, off + chunk));
      const more = off + piece.length < payload.length;
      this.sendPacket(iface, r.nextHop, dst, this.buildIpv4(protocol, src, dst, piece, false, more, off / 8, ttl, NO_OPTIONS, tos));
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

  private sendPacket(iface: NetInterface, nextHop: Ipv4Address, dst: Ipv4Address, packet: Uint8Array): void {
    if (iface.isLoopback) {
      this.sendFrame(iface, ZERO_MAC, EtherType.IPv4, packet);
      return;
    }
    if (isMulticast(dst)) {
      this.sendFrame(iface, multicastMac(dst, this.mcastMac), EtherType.IPv4, packet);
      return;
    }
    // RFC 1122 §3.3.6: broadcasts go to the link broadcast address, never through ARP.
    if (this.isBroadcast(dst)) {
      this.sendFrame(iface, BROADCAST_MAC, EtherType.IPv4, packet);
      return;
    }
    const mac = iface.arp.resolve(nextHop, packet, this.now);
    if (mac !== null) this.sendFrame(iface, mac, EtherType.IPv4, packet);
  }

  private sendIgmp(iface: NetInterface, m: Parameters<ConstructorParameters<typeof IgmpHost>[1]>[0]): void {
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
    const src = iface.ipv4[0]?.address ?? 0; // RFC 3376 §4.2.13: 0.0.0.0 allowed without an address
    this.sendFrame(iface, multicastMac(dst, this.mcastMac), EtherType.IPv4,
      this.buildNextId(IpProtocol.IGMP, src, dst, msg, 1, m.version === 1 ? NO_OPTIONS : ROUTER_ALERT, 0xc0));
  }

  private buildNextId(protocol: number, src: Ipv4Address, dst: Ipv4Address, payload: Uint8Array, ttl: number, options: Uint8Array, tos: number): Uint8Array {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.buildIpv4(protocol, src, dst, payload, true, false, 0, ttl, options, tos);
  }

  /**
   * Neighbour resolution failed: the queued packets are dropped, and (Linux's
   * arp_error_report → ICMP host unreachable to ourselves) their sockets learn of it.
   */
  private resolutionFailed(iface: NetInterface, ip: Ipv4Address, dropped: number, packets: readonly Uint8Array[]): void {
    this.counters.droppedUnresolved += dropped;
    iface.counters.txDropUnresolved += dropped;
    this.rememberUnreachable(ip);
    for (const p of packets) this.icmpErrorToUdp(p, 'EHOSTUNREACH', false);
  }

  /** @internal */
  rememberUnreachable(ip: IpAddress): void {
    if (this.unreachable.length === MAX_REMEMBERED_UNREACHABLE) this.unreachable.shift();
    this.unreachable.push(ip);
  }

  private sendArp(iface: NetInterface, op: number, ethDst: MacAddress, targetMac: MacAddress, targetIp: Ipv4Address, senderIp?: Ipv4Address): void {
    const src = senderIp ?? this.route(targetIp, iface.index)?.src ?? iface.ipv4[0]?.address;
    if (src === undefined) return;
    const body = new Uint8Array(ARP_LEN);
    emitArp({ operation: op, senderMac: iface.mac, senderIp: src, targetMac, targetIp }, body);
    this.sendFrame(iface, ethDst, EtherType.ARP, body);
  }

  /** @internal Frames a packet and hands it to the interface's link. */
  sendFrame(iface: NetInterface, dst: MacAddress, etherType: number, payload: Uint8Array): void {
    if (iface.link === null) {
      iface.counters.txDropNoLink++;
      return;
    }
    // Ethernet's 60-byte minimum (IEEE 802.3 §4.2.3.3): pad short frames with zeros.
    const frame = new Uint8Array(Math.max(60, ETHERNET_HEADER_LEN + payload.length));
    frame.set(dst.subarray(0, 6), 0);
    frame.set(iface.mac, 6);
    frame[12] = etherType >>> 8;
    frame[13] = etherType & 0xff;
    frame.set(payload, ETHERNET_HEADER_LEN);
    this.counters.framesOut++;
    this.counters.bytesOut += frame.length;
    iface.counters.txFrames++;
    iface.counters.txBytes += frame.length;
    iface.link.transmit(frame);
  }
}

/**
 * The offset (from the IP header) of the first malformed option in an IPv4 header of `hl`
 * bytes at `at`, or −1: past End of Option List and No-Operation, every option has a length
 * octet of at least 2 that stays inside the header (RFC 791 §3.1; Linux __ip_options_compile).
 */
function badIpv4Option(b: Uint8Array, at: number, hl: number): number {
  const end = at + hl;
  let i = at + IPV4_MIN_HEADER_LEN;
  while (i < end) {
    const type = b[i]!;
    if (type === 0) break; // End of Option List
    if (type === 1) {
      i++; // No-Operation
      continue;
    }
    if (i + 1 >= end) return i - at;
    const len = b[i + 1]!;
    if (len < 2 || len > end - i) return i - at;
    i += len;
  }
  return -1;
}

function sameMac(frame: Uint8Array, at: number, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (frame[at + i] !== mac[i]) return false;
  return true;
}

